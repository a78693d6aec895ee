/* ca.c: the per-user CA and the leaf certificates the proxy presents.
 *
 * One CA per user, made once (ECDSA P-256, ten years, pathlen 0) and kept
 * next to the audit database; its key never leaves that directory, which
 * the session masks inside the sandbox. Leaves are signed with the CA's
 * key for one host each, valid for 30 days, and all share one P-256 key
 * made at start-up and held in memory only: a cold handshake then costs
 * one signature, not a key generation.
 *
 * The leaf cache is a most-recently-used list of at most CA_LEAF_CACHE
 * entries: a hit moves to the front, a miss evicts the tail. Lookup is a
 * linear scan: 512 string compares are noise next to a TLS handshake,
 * and a short list needs no second index to keep consistent.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca.h"
#include "identity.h"
#include "log.h"

struct ca_entry {
	char *host;
	X509 *cert;
	struct ca_entry *prev, *next;
};

struct ca {
	char cert_path[PATH_MAX], key_path[PATH_MAX];
	X509 *cert;
	EVP_PKEY *key;
	EVP_PKEY *leaf_key;
	struct ca_entry *head, *tail;
	size_t n;
};

static EVP_PKEY *new_p256(void)
{
	return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EINVAL;
	X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return 0;
}

static int random_serial(X509 *cert)
{
	unsigned char b[16];
	BIGNUM *bn;
	int rc = -ENOMEM;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		rc = 0;
	BN_free(bn);
	return rc;
}

/* A certificate skeleton: version 3, random serial, validity, key. */
static X509 *cert_new(EVP_PKEY *key, long days)
{
	X509 *cert = X509_new();

	if (!cert || !X509_set_version(cert, 2) || random_serial(cert) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400) ||
	    !X509_set_pubkey(cert, key)) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

static X509 *make_ca_cert(EVP_PKEY *key, const char *who)
{
	X509 *cert = cert_new(key, 3650);
	X509_NAME *name;
	char cn[128];

	if (!cert)
		return NULL;
	snprintf(cn, sizeof(cn), "leash CA (%s)", who);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"leash", -1, -1,
				   0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") ||
	    add_ext(cert, cert, NID_subject_key_identifier, "hash") ||
	    add_ext(cert, cert, NID_authority_key_identifier, "keyid:always") ||
	    !X509_sign(cert, key, EVP_sha256())) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* Writes PEM output of WRITE(OBJ) to PATH with MODE, atomically. */
static int write_pem(const char *path, mode_t mode, uid_t uid, gid_t gid,
		     int (*write)(FILE *, void *), void *obj)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 || !(f = fdopen(fd, "w"))) {
		int e = errno;

		close(fd);
		unlink(tmp);
		return -e;
	}
	if (!write(f, obj) || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		unlink(tmp);
		return -EIO;
	}
	fclose(f);
	if (rename(tmp, path) < 0)
		return -errno;
	return 0;
}

static int pem_key(FILE *f, void *k)
{
	return PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
}

static int pem_cert(FILE *f, void *c)
{
	return PEM_write_X509(f, c);
}

static int ca_create(struct ca *ca, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	char who[128], host[64] = "localhost";
	int rc;

	gethostname(host, sizeof(host) - 1);
	snprintf(who, sizeof(who), "uid %u on %s", (unsigned)uid, host);
	ca->key = new_p256();
	ca->cert = ca->key ? make_ca_cert(ca->key, who) : NULL;
	if (!ca->cert) {
		snprintf(err, errlen, "ca: cannot make a CA certificate");
		return -ENOMEM;
	}
	rc = write_pem(ca->key_path, 0600, uid, gid, pem_key, ca->key);
	if (rc == 0)
		rc = write_pem(ca->cert_path, 0644, uid, gid, pem_cert, ca->cert);
	if (rc)
		snprintf(err, errlen, "ca: cannot write '%s': %s", ca->key_path, strerror(-rc));
	else
		log_info("ca: created %s", ca->cert_path);
	return rc;
}

/* Someone else's CA would be trusted by the agent and its key known to
 * them (a shared directory such as /tmp with --db there): the key must be
 * root's or the invoking user's, and theirs alone. */
static int ca_load(struct ca *ca, uid_t uid, char *err, size_t errlen)
{
	struct stat st;
	FILE *f;

	if (stat(ca->key_path, &st) < 0 || (st.st_mode & 0077)) {
		snprintf(err, errlen, "ca: '%s' must be mode 0600", ca->key_path);
		return -EPERM;
	}
	if (st.st_uid != 0 && st.st_uid != uid) {
		snprintf(err, errlen, "ca: '%s' belongs to another user (uid %u)", ca->key_path,
			 (unsigned)st.st_uid);
		return -EPERM;
	}
	f = fopen(ca->key_path, "re");
	if (f) {
		ca->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	f = fopen(ca->cert_path, "re");
	if (f) {
		ca->cert = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!ca->key || !ca->cert || X509_check_private_key(ca->cert, ca->key) != 1) {
		snprintf(err, errlen, "ca: '%s' and '%s' are not a certificate and its key",
			 ca->cert_path, ca->key_path);
		return -EINVAL;
	}
	return 0;
}

int ca_open(struct ca **out, const char *dir, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct ca *ca = calloc(1, sizeof(*ca));
	int rc;

	if (!ca) {
		snprintf(err, errlen, "ca: out of memory");
		return -ENOMEM;
	}
	snprintf(ca->cert_path, sizeof(ca->cert_path), "%s/%s", dir, CA_CERT_NAME);
	snprintf(ca->key_path, sizeof(ca->key_path), "%s/%s", dir, CA_KEY_NAME);
	if (access(ca->key_path, F_OK) == 0)
		rc = ca_load(ca, uid, err, errlen);
	else
		rc = ca_create(ca, uid, gid, err, errlen);
	if (rc == 0 && !(ca->leaf_key = new_p256())) {
		snprintf(err, errlen, "ca: cannot make a leaf key");
		rc = -ENOMEM;
	}
	if (rc) {
		ca_close(ca);
		return rc;
	}
	*out = ca;
	return 0;
}

void ca_flush(struct ca *ca)
{
	struct ca_entry *e, *next;

	for (e = ca->head; e; e = next) {
		next = e->next;
		X509_free(e->cert);
		free(e->host);
		free(e);
	}
	ca->head = ca->tail = NULL;
	ca->n = 0;
}

void ca_close(struct ca *ca)
{
	if (!ca)
		return;
	ca_flush(ca);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	EVP_PKEY_free(ca->leaf_key);
	free(ca);
}

const char *ca_cert_path(const struct ca *ca)
{
	return ca->cert_path;
}

const char *ca_key_path(const struct ca *ca)
{
	return ca->key_path;
}

void ca_fingerprint(const struct ca *ca, char *buf, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	size_t off = 0;

	buf[0] = '\0';
	if (!X509_digest(ca->cert, EVP_sha256(), md, &n))
		return;
	for (unsigned i = 0; i < n && off + 4 <= len; i++)
		off += snprintf(buf + off, len - off, i ? ":%02X" : "%02X", md[i]);
}

/* ---- leaves -------------------------------------------------------------- */

static X509 *make_leaf(struct ca *ca, const char *host)
{
	X509 *cert = cert_new(ca->leaf_key, 30);
	unsigned char ip[16];
	char san[300];
	bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;

	if (!cert)
		return NULL;
	X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
				   (const unsigned char *)host, -1, -1, 0);
	X509_set_issuer_name(cert, X509_get_subject_name(ca->cert));
	snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS", host);
	if (add_ext(cert, ca->cert, NID_subject_alt_name, san) ||
	    add_ext(cert, ca->cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(cert, ca->cert, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(cert, ca->cert, NID_ext_key_usage, "serverAuth") ||
	    add_ext(cert, ca->cert, NID_subject_key_identifier, "hash") ||
	    add_ext(cert, ca->cert, NID_authority_key_identifier, "keyid:always") ||
	    !X509_sign(cert, ca->key, EVP_sha256())) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

static void lru_unlink(struct ca *ca, struct ca_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		ca->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		ca->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct ca *ca, struct ca_entry *e)
{
	e->next = ca->head;
	e->prev = NULL;
	if (ca->head)
		ca->head->prev = e;
	ca->head = e;
	if (!ca->tail)
		ca->tail = e;
}

/* A host name fit for a certificate: letters, digits, '-', '.', ':' (v6). */
static bool host_ok(const char *host)
{
	size_t n = strlen(host);

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = host[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == ':' || c == '_'))
			return false;
	}
	return true;
}

int ca_leaf(struct ca *ca, const char *host, X509 **cert, EVP_PKEY **key, bool *hit)
{
	struct ca_entry *e;

	if (!host_ok(host))
		return -EINVAL;
	for (e = ca->head; e; e = e->next)
		if (strcmp(e->host, host) == 0)
			break;
	*hit = e != NULL;
	if (e) {
		lru_unlink(ca, e);
	} else {
		if (ca->n >= CA_LEAF_CACHE) {
			e = ca->tail;
			lru_unlink(ca, e);
			X509_free(e->cert);
			free(e->host);
			ca->n--;
		} else if (!(e = calloc(1, sizeof(*e)))) {
			return -ENOMEM;
		}
		e->host = strdup(host);
		e->cert = make_leaf(ca, host);
		if (!e->host || !e->cert) {
			X509_free(e->cert);
			free(e->host);
			free(e);
			return -ENOMEM;
		}
		ca->n++;
	}
	lru_push(ca, e);
	*cert = e->cert;
	*key = ca->leaf_key;
	return 0;
}

/* ---- the agent's bundle --------------------------------------------------- */

int ca_write_bundle(const struct ca *ca, const char *system, const char *path)
{
	char tmp[PATH_MAX + 8], buf[65536];
	FILE *in, *out;
	size_t n;
	int rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	out = fopen(tmp, "wxe");
	if (!out)
		return -errno;
	fchmod(fileno(out), 0644);
	in = system ? fopen(system, "re") : NULL;
	if (in) {
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			if (fwrite(buf, 1, n, out) != n)
				rc = -EIO;
		fclose(in);
	}
	fputs("\n# leash CA\n", out);
	if (!PEM_write_X509(out, ca->cert) || fclose(out) != 0)
		rc = -EIO;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* ---- leash ca ------------------------------------------------------------ */

int ca_main(int argc, char **argv)
{
	struct identity id;
	char err[512], dir[PATH_MAX], fp[128];
	const char *xdg;
	struct ca *ca;
	int rc;

	if (argc > 1) {
		fprintf(stderr,
			"usage: leash ca\n"
			"prints the path and SHA-256 fingerprint of your leash CA certificate\n");
		return strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ? 0 : 2;
	}
	if (identity_resolve(&id, err, sizeof(err)) < 0) {
		log_err("ca: %s", err);
		return 1;
	}
	xdg = id.via_sudo ? NULL : getenv("XDG_DATA_HOME");
	if (xdg && xdg[0] == '/')
		snprintf(dir, sizeof(dir), "%s/leash", xdg);
	else
		snprintf(dir, sizeof(dir), "%s/.local/share/leash", id.home);
	rc = identity_mkdirs(dir, id.uid, id.gid);
	if (rc) {
		log_err("ca: cannot create '%s': %s", dir, strerror(-rc));
		return 1;
	}
	if (ca_open(&ca, dir, id.uid, id.gid, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 1;
	}
	ca_fingerprint(ca, fp, sizeof(fp));
	printf("%s\nsha256 %s\n", ca_cert_path(ca), fp);
	ca_close(ca);
	return 0;
}
