#!/bin/sh
# Lifeboat's restore_command during a point-in-time restore, run by PostgreSQL as
#   restore-command.sh <spool folder> %f %p
# (pitr/recovery-config.ts writes that line; pitr/wal-spool.ts copies this file into the spool).
# Lifeboat fetches, decrypts, decompresses and hash-checks every WAL file the restore needs into the
# spool, each renamed into place only once proven; their names are listed in <spool>/.expected.
# A file the archive does not hold is absent at once (PostgreSQL probes for newer timelines' history
# files before replaying anything); any other is waited for until it is there, or the fetch has
# ended (.done) or failed (.failed).
spool=$1
name=$2
dest=$3
grep -qxF -e "$name" "$spool/.expected" || exit 1
while [ ! -f "$spool/$name" ] && [ ! -f "$spool/.done" ] && [ ! -f "$spool/.failed" ]; do sleep 0.02; done
[ -f "$spool/$name" ] || exit 1
# Replay waits for this command: a hard link when the spool and the data directory share a file
# system (no 16 MiB copy a segment), else a copy. Safe to share: a spool file is never written again
# once in place (each is renamed in whole, proven), PostgreSQL only reads a restored segment (it may
# rename it; it writes WAL into recycled files only after promotion, when it asks for none), and
# the spool's own names go when replay ends.
ln "$spool/$name" "$dest" 2>/dev/null || exec cp "$spool/$name" "$dest"
