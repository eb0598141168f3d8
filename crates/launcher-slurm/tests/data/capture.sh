#!/bin/sh
# Captures the real output of Slurm's commands that the parsers' unit tests
# read. Run it against the test cluster (as root):
#
#   cargo xtask slurm up && eval "$(cargo xtask slurm env)"
#   sh crates/launcher-slurm/tests/data/capture.sh crates/launcher-slurm/tests/data
#
# It takes about four minutes (one job runs into its time limit; without a
# configuration, Slurm's commands retry for a minute). The
# formats are those the launcher uses (see src/parse.rs).
set -u
out=$(cd "${1:?usage: capture.sh OUTDIR}" && pwd) || exit 1
work=$(mktemp -d)
cd "$work" || exit 1
cat > job.sh <<'JOB'
#!/bin/sh
sleep "${1:-0}"
exit "${2:-0}"
JOB
SQ='%i|%T|%r'   # parse::SQUEUE_FORMAT

# sbatch: what --parsable prints, and its errors.
sbatch --parsable job.sh > "$out/sbatch-parsable.txt" 2>&1
sbatch --parsable -p nosuch job.sh > "$out/sbatch-invalid-partition.txt" 2>&1
sbatch --parsable --constraint=nosuch job.sh > "$out/sbatch-invalid-feature.txt" 2>&1
sbatch --parsable --gpus=64 job.sh > "$out/sbatch-too-many-gpus.txt" 2>&1
sbatch --parsable --time=abc job.sh > "$out/sbatch-invalid-time.txt" 2>&1

# squeue: one line per job (-r: one per array task), every state we can
# make this cluster show.
ids=""
add() { ids="$ids${ids:+,}$1"; }
add "$(sbatch --parsable -p short --time=10:00 job.sh)"            # PartitionTimeLimit
add "$(sbatch --parsable --hold job.sh)"                           # JobHeldUser
long=$(sbatch --parsable job.sh 60); add "$long"                   # RUNNING
failed=$(sbatch --parsable job.sh 0 3); add "$failed"                # FAILED
add "$(sbatch --parsable job.sh 0 0)"                              # COMPLETED
add "$(sbatch --parsable --begin=now+600 job.sh)"                  # BeginTime
add "$(sbatch --parsable --dependency=afterok:"$long" job.sh)"     # Dependency
add "$(sbatch --parsable --array=0-5%2 job.sh 30)"                 # array, JobArrayTaskLimit
cancelled=$(sbatch --parsable job.sh 100); add "$cancelled"
suspended=$(sbatch --parsable job.sh 100); add "$suspended"
requeued=$(sbatch --parsable job.sh 100); add "$requeued"
timeout=$(sbatch --parsable --time=1 job.sh 300); add "$timeout"
failed_dep=$(sbatch --parsable job.sh 0 1)
add "$(sbatch --parsable --dependency=afterok:"$failed_dep" --kill-on-invalid-dep=no job.sh)" # DependencyNeverSatisfied
sleep 3
scancel "$cancelled"
scontrol suspend "$suspended"
scontrol requeue "$requeued"
sleep 1
squeue -h -r -t all -j "$ids" -o "$SQ" > "$out/squeue-states.txt" 2>&1
squeue -h -t all -j "$ids" -o "$SQ" > "$out/squeue-states-no-r.txt" 2>&1
squeue -h -r -t all -j 999999 -o "$SQ" > "$out/squeue-unknown-single.txt" 2>&1
squeue -h -r -t all -j 999998,999999 -o "$SQ" > "$out/squeue-unknown-several.txt" 2>&1

# scontrol show job, multi-line form.
scontrol show job "$long" > "$out/scontrol-job-running.txt" 2>&1
scontrol show job "$suspended" > "$out/scontrol-job-suspended.txt" 2>&1
scontrol show job "$failed" > "$out/scontrol-job-failed.txt" 2>&1
scontrol show job 999999 > "$out/scontrol-job-unknown.txt" 2>&1
scontrol resume "$suspended"

# A drained node: ReqNodeNotAvail with the node named.
scontrol update nodename=launchtest1 state=drain reason=capture
held=$(sbatch --parsable -w launchtest1 job.sh)
sleep 2
squeue -h -r -t all -j "$held" -o "$SQ" > "$out/squeue-reqnodenotavail.txt" 2>&1
scontrol show job "$held" > "$out/scontrol-job-reqnodenotavail.txt" 2>&1
scontrol update nodename=launchtest1 state=resume
scancel "$held"

# The partitions and nodes, for `launch generate slurm`.
sinfo -h -a -N -o '%P|%N|%c|%m|%G|%f|%l|%a|%t' > "$out/sinfo-nodes.txt" 2>&1
scontrol show partition > "$out/scontrol-partitions.txt" 2>&1
scontrol show node > "$out/scontrol-nodes.txt" 2>&1
scontrol show config > "$out/scontrol-config.txt" 2>&1

# sacct without accounting.
sacct -n -P -X -j "$long" -o JobID,State,ExitCode > "$out/sacct-disabled.txt" 2>&1

# The timed-out job and the finished ones, once they are over.
n=0
while [ $n -lt 150 ]; do
	state=$(squeue -h -t all -j "$timeout" -o %T 2>/dev/null)
	[ "$state" = TIMEOUT ] && break
	sleep 1; n=$((n + 1))
done
squeue -h -r -t all -j "$ids" -o "$SQ" > "$out/squeue-later.txt" 2>&1
scontrol show job "$timeout" > "$out/scontrol-job-timeout.txt" 2>&1
scancel $(echo "$ids" | tr , ' ') 2>/dev/null
# Without a configuration (each takes a minute: Slurm retries reading it).
SLURM_CONF=/nonexistent sbatch --parsable job.sh > "$out/sbatch-no-config.txt" 2>&1
SLURM_CONF=/nonexistent squeue -h -o "$SQ" > "$out/squeue-no-config.txt" 2>&1
cd / && rm -rf "$work"
