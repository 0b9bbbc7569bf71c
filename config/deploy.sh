#!/usr/bin/env bash
# Sync this config directory to the hosts that run SpeedData (rsync over ssh).
#
#   config/deploy.sh [--dry-run] [--hosts FILE] [--restart] [HOST...]
#
# Hosts come from the arguments, else from config/deploy.hosts: one "[user@]host[:dir]" per
# line ('#' starts a comment; dir defaults to the same path as here, e.g.
# /opt/speeddata/config). --dry-run prints every command instead of running it. --restart
# also runs `systemctl restart speeddata` on each host (if you run SpeedData as a service).
# Errors name the host; the exit code is the number of hosts that failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
hosts_file="$here/deploy.hosts"
dry_run=0
restart=0
hosts=()
while (($#)); do
  case "$1" in
    --dry-run|-n) dry_run=1 ;;
    --restart) restart=1 ;;
    --hosts) hosts_file=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "deploy.sh: unknown option $1" >&2; exit 2 ;;
    *) hosts+=("$1") ;;
  esac
  shift
done

if ((${#hosts[@]} == 0)); then
  if [[ ! -f $hosts_file ]]; then
    echo "deploy.sh: no hosts given and $hosts_file does not exist (one [user@]host[:dir] per line)" >&2
    exit 2
  fi
  while IFS= read -r line; do
    line=${line%%#*}
    line=$(echo "$line" | xargs)
    [[ -n $line ]] && hosts+=("$line")
  done <"$hosts_file"
fi
if ((${#hosts[@]} == 0)); then
  echo "deploy.sh: no hosts in $hosts_file" >&2
  exit 2
fi

run() {
  if ((dry_run)); then
    printf '%q ' "$@"; echo
  else
    "$@"
  fi
}

failed=0
for entry in "${hosts[@]}"; do
  host=${entry%%:*}
  dir=$here
  [[ $entry == *:* ]] && dir=${entry#*:}
  echo "deploy.sh: $host:$dir" >&2
  if ! run ssh -o BatchMode=yes "$host" mkdir -p "$dir" ||
     ! run rsync -az --delete --exclude deploy.hosts --exclude '*.tmp' -e "ssh -o BatchMode=yes" "$here/" "$host:$dir/"; then
    echo "deploy.sh: $host: sync failed" >&2
    failed=$((failed + 1))
    continue
  fi
  if ((restart)) && ! run ssh -o BatchMode=yes "$host" systemctl restart speeddata; then
    echo "deploy.sh: $host: restart failed" >&2
    failed=$((failed + 1))
  fi
done
exit "$failed"
