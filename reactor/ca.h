/* ca.h: leash's per-user certificate authority, and the leaf certificates
 * the proxy presents to the agent.
 *
 * The CA (ECDSA P-256) lives in the invoking user's leash data directory,
 * next to the audit database: ca.pem (the certificate, 0644) and
 * ca-key.pem (the private key, 0600, masked inside the sandbox). Leaf
 * certificates are signed on demand for one host each (SAN = the host) and
 * kept in a bounded LRU cache.
 */
#ifndef LEASH_CA_H
#define LEASH_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct ca;

#define CA_CERT_NAME "ca.pem"
#define CA_KEY_NAME "ca-key.pem"
#define CA_BUNDLE_NAME "ca-bundle.pem"
#define CA_LEAF_CACHE 512

/* Loads the CA in DIR, or creates it there (files owned by UID:GID). A key
 * file that is not mode 0600 is refused. 0, or -errno with ERR set. */
int ca_open(struct ca **out, const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen);
void ca_close(struct ca *ca);

/* Paths of the certificate and the key (owned by CA). */
const char *ca_cert_path(const struct ca *ca);
const char *ca_key_path(const struct ca *ca);

/* SHA-256 fingerprint of the CA certificate, "AB:CD:...". */
void ca_fingerprint(const struct ca *ca, char *buf, size_t len);

/* The leaf certificate for HOST (a DNS name or an IP literal), from the
 * cache or signed now. *CERT and *KEY are borrowed: valid until the next
 * ca_leaf() call evicts them, so use them at once (SSL_use_* takes its own
 * reference). *HIT says whether the cache had it. 0, -EINVAL or -ENOMEM. */
int ca_leaf(struct ca *ca, const char *host, X509 **cert, EVP_PKEY **key, bool *hit);
/* Empties the leaf cache (benchmarks: cold handshakes). */
void ca_flush(struct ca *ca);

/* Writes SYSTEM (a PEM bundle, may be missing) followed by the CA
 * certificate to PATH, mode 0644, atomically. 0 or -errno. */
int ca_write_bundle(const struct ca *ca, const char *system, const char *path);

/* `leash ca`: prints the CA's certificate path and fingerprint for the
 * invoking user, creating the CA if needed. Exit status. */
int ca_main(int argc, char **argv);

#endif
