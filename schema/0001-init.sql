-- 0001-init.sql: sessions and the events they record.
--
-- Times are nanoseconds since the Unix epoch (wall clock); kernel events are
-- converted from boot time when they are read. Query examples are in README.

-- One row per leash run.
CREATE TABLE sessions (
	id INTEGER PRIMARY KEY,          -- session number; events.session refers to it
	uuid TEXT NOT NULL UNIQUE,       -- random 128-bit id, unique across databases
	started_ns INTEGER NOT NULL,     -- when leash started the session
	ended_ns INTEGER,                -- when it ended; NULL while running, or if leash was killed
	command TEXT NOT NULL,           -- the command and its arguments, a JSON array of strings
	cwd TEXT NOT NULL,               -- working directory the command started in
	uid INTEGER NOT NULL,            -- user id the command ran as
	gid INTEGER NOT NULL,            -- group id the command ran as
	mode TEXT NOT NULL,              -- mode at start: record, shadow or enforce
	policy TEXT NOT NULL,            -- policy file path, or '(default)' for the embedded policy
	cgroup TEXT NOT NULL,            -- path of the session cgroup (cgroup v2)
	cgroup_id INTEGER NOT NULL,      -- its cgroup id (the inode number), as in events.cgroup
	leash_version TEXT NOT NULL,     -- `leash --version` of the binary that recorded it
	exit_status INTEGER,             -- leash's exit status: the command's, 128+N if killed by signal N
	events_lost INTEGER NOT NULL DEFAULT 0 -- events lost before the store (kernel ring buffer full); also a stats.loss event
);

-- One row per event, the common shape of every source.
CREATE TABLE events (
	session INTEGER NOT NULL REFERENCES sessions(id),
	seq INTEGER NOT NULL,            -- 1, 2, 3, ... per session, in the order leash saw events
	time_ns INTEGER NOT NULL,        -- when it happened (kernel time for kernel events)
	kind TEXT NOT NULL,              -- what happened: process.exec, process.exit, session.start, session.end, stats.loss, ...
	pid INTEGER,                     -- process id (as seen from the host, not the sandbox), NULL if none
	ppid INTEGER,                    -- parent's process id
	uid INTEGER,                     -- real user id of the process
	exe TEXT,                        -- executable path (process.exec: the path given to execve)
	comm TEXT,                       -- the kernel's 16-byte task name
	cgroup INTEGER,                  -- cgroup id of the process
	action TEXT,                     -- Cedar action asked, e.g. ProcessExec; NULL for observations
	resource TEXT,                   -- Cedar resource, e.g. File::"/usr/bin/git"
	decision TEXT,                   -- allow, deny or would_deny; NULL when no policy question was asked
	policies TEXT,                   -- JSON array of the policy ids that decided
	mode TEXT NOT NULL,              -- mode in force: record, shadow or enforce
	details TEXT NOT NULL,           -- JSON object, per kind (process.exec: argv, argc, flags; process.exit: status, signal)
	PRIMARY KEY (session, seq)
) WITHOUT ROWID;

CREATE INDEX events_by_kind ON events(session, kind);
CREATE INDEX events_by_time ON events(time_ns);
CREATE INDEX events_by_pid ON events(session, pid);
CREATE INDEX events_by_decision ON events(decision, time_ns) WHERE decision IS NOT NULL;
