#!/usr/bin/env bash
# Deploy this config directory to the hosts that run SpeedData: for each host, sync it (rsync
# over ssh), check it there (`speeddata config check`), install it and restart what runs there.
#
#   config/deploy.sh [--dry-run] [--no-restart] [--hosts FILE] [HOST...]
#
# Hosts: the HOST arguments, else the lines of config/deploy.hosts (--hosts FILE): one
#   [user@]host[:port] [remote-dir]
# per line; '#' starts a comment, blank lines are skipped. remote-dir defaults to
# $SPEEDDATA_REMOTE_DIR, else to this directory's own path. (The earlier "host:/dir" form of
# this file still works.) A bad line is an error naming the file and line; no host is touched.
#
# Per host, in order (docs/deploy.md):
#   1. the files go to a staging directory beside remote-dir (.NAME.deploy), so that a bad
#      config never replaces the one in force;
#   2. `speeddata config check` runs there on the staged files (the host's own binary:
#      $SPEEDDATA_REMOTE_BIN, else <parent of remote-dir>/build/speeddata, else `speeddata`);
#   3. if the check fails, the host keeps its config and is not restarted; the others go on;
#   4. else the files are installed in remote-dir, and if a file the services read changed, the
#      running SpeedData is restarted: $SPEEDDATA_RESTART_CMD if set (run by bash in the parent
#      of remote-dir), else the systemd unit speeddata if it is active, else the `make start`
#      stack of the checkout around remote-dir (scripts/stop, then scripts/start with the
#      arguments it ran with). Nothing running there: nothing is started.
#
# --dry-run      print the plan (hosts, files that would change, what would be restarted);
#                change nothing anywhere
# --no-restart   sync, check and install, restart nothing
# --restart      accepted (the earlier opt-in); restarting is the default now
# $SPEEDDATA_SSH the ssh command (default "ssh"), e.g. "ssh -i ~/.ssh/deploy_key"
# Exit status: 0 every host done, 1 a host failed (sync, check or restart), 2 usage or hosts file.
set -euo pipefail

prog=deploy.sh
here=$(cd "$(dirname "$0")" && pwd)
hosts_file=$here/deploy.hosts
dry_run=0
restart=1
args=()
while (($#)); do
  case "$1" in
    --dry-run|-n) dry_run=1 ;;
    --no-restart) restart=0 ;;
    --restart) restart=1 ;;
    --hosts)
      (($# >= 2)) || { echo "$prog: --hosts needs a file" >&2; exit 2; }
      hosts_file=$2; shift ;;
    --hosts=*) hosts_file=${1#--hosts=} ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    --) shift; args+=("$@"); break ;;
    -*) echo "$prog: unknown option $1 (--help lists them)" >&2; exit 2 ;;
    *) args+=("$1") ;;
  esac
  shift
done

for tool in rsync ssh; do
  command -v "$tool" >/dev/null || { echo "$prog: $tool is not installed here (apt-get install $tool)" >&2; exit 2; }
done
read -r -a ssh_cmd <<<"${SPEEDDATA_SSH:-ssh}"
ssh_cmd+=(-o BatchMode=yes)
default_dir=${SPEEDDATA_REMOTE_DIR:-$here}
if [[ $default_dir != /* ]]; then
  echo "$prog: \$SPEEDDATA_REMOTE_DIR: '$default_dir' must be an absolute path" >&2
  exit 2
fi

# ---- hosts ---------------------------------------------------------------------------------
# Parsed into parallel arrays; every line is checked before any host is contacted.
h_dest=() h_ssh=() h_port=() h_dir=() h_name=()
bad=0
parse_entry() {  # origin text
  local origin=$1 text=$2 fields dest port="" dir=$default_dir
  read -r -a fields <<<"$text"
  local hostre='([A-Za-z0-9._-]+@)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])'
  if ((${#fields[@]} > 2)); then
    echo "$prog: $origin: '$text': expected [user@]host[:port] [remote-dir], got ${#fields[@]} fields" >&2
    bad=1; return
  fi
  if [[ ${fields[0]} =~ ^${hostre}(:([0-9]+))?$ ]]; then
    dest="${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
    port=${BASH_REMATCH[4]}
    if [[ -n $port ]] && ((10#$port < 1 || 10#$port > 65535)); then
      echo "$prog: $origin: '$text': port $port is not in 1..65535" >&2
      bad=1; return
    fi
  elif [[ ${fields[0]} =~ ^${hostre}:(/[^[:space:]]*)$ && ${#fields[@]} == 1 ]]; then
    dest="${BASH_REMATCH[1]}${BASH_REMATCH[2]}"   # the earlier form: host:/dir
    dir=${BASH_REMATCH[3]}
  else
    echo "$prog: $origin: '$text': expected [user@]host[:port] [remote-dir]" >&2
    bad=1; return
  fi
  if ((${#fields[@]} == 2)); then
    dir=${fields[1]}
    if [[ $dir != /* ]]; then
      echo "$prog: $origin: '$text': remote-dir '$dir' must be an absolute path" >&2
      bad=1; return
    fi
  fi
  dir=${dir%/}
  if [[ -z $dir ]]; then
    echo "$prog: $origin: '$text': remote-dir / is not a config directory" >&2
    bad=1; return
  fi
  h_dest+=("$dest") h_ssh+=("${dest//[\[\]]/}") h_port+=("$port") h_dir+=("$dir") h_name+=("${fields[0]}")
}

if ((${#args[@]})); then
  for i in "${!args[@]}"; do parse_entry "argument $((i + 1))" "${args[$i]}"; done
else
  if [[ ! -f $hosts_file ]]; then
    echo "$prog: no hosts given and $hosts_file does not exist (one [user@]host[:port] [remote-dir] per line; see deploy.hosts.example)" >&2
    exit 2
  fi
  n=0
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    line=${line%%#*}
    line=${line//$'\r'/}
    [[ $line =~ [^[:space:]] ]] || continue
    line=$(sed 's/^[[:space:]]*//;s/[[:space:]]*$//' <<<"$line")
    parse_entry "$hosts_file:$n" "$line"
  done <"$hosts_file"
fi
((bad == 0)) || exit 2
if ((${#h_dest[@]} == 0)); then
  echo "$prog: no hosts in $hosts_file" >&2
  exit 2
fi

# ---- the remote side -----------------------------------------------------------------------
# One bash program, sent on stdin: `bash -s -- ACTION DIR BIN RESTART_CMD`. Its last line of
# output for `plan`/`restart` is the restart it chose (or did).
remote_program=$(cat <<'REMOTE'
set -uo pipefail
action=$1 dir=$2 bin=$3 restart_cmd=$4
root=$(dirname -- "$dir")
stage=$root/.$(basename -- "$dir").deploy
[[ -n $bin ]] || { bin=speeddata; [[ -x $root/build/speeddata ]] && bin=$root/build/speeddata; }
pidfile=$root/data/speeddata.pid

# The `make start` stack of this checkout: the pid in data/speeddata.pid, still `speeddata up`.
stack_pid() {
  [[ -x $root/scripts/start && -x $root/scripts/stop && -s $pidfile ]] || return 1
  local pid; pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "speeddata up " || return 1
  echo "$pid"
}
stack_args() {  # the arguments after `up` of pid $1, one a line
  tr '\0' '\n' <"/proc/$1/cmdline" | sed '1,/^up$/d'
}
unit_active() { command -v systemctl >/dev/null && systemctl is-active --quiet speeddata 2>/dev/null; }
how() {
  local pid
  if [[ -n $restart_cmd ]]; then echo "run: $restart_cmd (in $root)"
  elif unit_active; then echo "systemctl restart speeddata"
  elif pid=$(stack_pid); then echo "the make-start stack (pid $pid): scripts/stop, scripts/start $(stack_args "$pid" | paste -sd ' ')"
  else echo "nothing: SpeedData is not running there (no active unit speeddata, no make-start stack in $root)"
  fi
}

case $action in
  stage)  # the staging copy starts as the config in force, so that rsync lists only changes
    mkdir -p -- "$dir" || exit 1
    rm -rf -- "$stage" && mkdir -p -- "$stage" && rsync -a --delete -- "$dir/" "$stage/" ;;
  check)
    command -v -- "$bin" >/dev/null || { echo "$bin: not found on this host (set SPEEDDATA_REMOTE_BIN)"; exit 127; }
    out=$("$bin" config check --config-dir "$stage" 2>&1); rc=$?
    printf '%s\n' "${out//$stage/$dir}"   # name the files as they will be named
    exit $rc ;;
  install)
    rsync -a --delete -- "$stage/" "$dir/" && rm -rf -- "$stage" ;;
  discard)
    rm -rf -- "$stage" ;;
  plan)
    how ;;
  restart)
    if [[ -n $restart_cmd ]]; then
      (cd "$root" && bash -c "$restart_cmd") || exit 1
      echo "ran: $restart_cmd"
    elif unit_active; then
      systemctl restart speeddata || exit 1
      echo "restarted: systemctl restart speeddata"
    elif pid=$(stack_pid); then
      mapfile -t a < <(stack_args "$pid")
      (cd "$root" && scripts/stop && scripts/start "${a[@]}") || exit 1
      echo "restarted: the make-start stack (pid $pid -> $(<"$pidfile"))"
    else
      echo "not restarted: SpeedData is not running there (no active unit speeddata, no make-start stack in $root)"
    fi ;;
esac </dev/null  # the program itself is stdin: no command may read the rest of it
REMOTE
)

remote() {  # index action: runs the remote program on host i
  local i=$1 action=$2 port_opt=()
  [[ -n ${h_port[$i]} ]] && port_opt=(-p "${h_port[$i]}")
  local cmd
  cmd=$(printf '%q ' bash -s -- "$action" "${h_dir[$i]}" "${SPEEDDATA_REMOTE_BIN:-}" "${SPEEDDATA_RESTART_CMD:-}")
  "${ssh_cmd[@]}" "${port_opt[@]}" "${h_ssh[$i]}" "$cmd" <<<"$remote_program"
}

# rsync's itemized list -> "new|changed|deleted PATH" lines, files only (a line starting with
# '.' changes attributes only: not a change; directories follow from their files).
changes_of() {
  awk '
    /^created directory / { next }
    /^\*deleting / { p = substr($0, index($0, " ") + 1); while (substr(p, 1, 1) == " ") p = substr(p, 2);
                     if (p !~ /\/$/) print "deleted " p; next }
    /^[<>ch.][fdLDS][^ ]+ / { code = $1; p = substr($0, length(code) + 2)
                 if (substr(code, 2, 1) == "d" || substr(code, 1, 1) == ".") next
                 print (substr(code, 3, 1) == "+" ? "new " : "changed ") p }'
}

# Files no service reads: a change to only these restarts nothing.
needs_restart() {
  local kind path
  while read -r kind path; do
    case $path in
      deploy.sh|deploy.hosts.example|*.md|*.before-migrate|*.before-migrate.*) ;;
      *) return 0 ;;
    esac
  done
  return 1
}

sync_to() {  # index target-dir [--dry-run]: rsync the config dir, prints its itemized list
  local i=$1 target=$2; shift 2
  local rsh="${ssh_cmd[*]}"   # words without spaces (split from $SPEEDDATA_SSH): rsync re-splits it
  [[ -n ${h_port[$i]} ]] && rsh+=" -p ${h_port[$i]}"
  rsync -rlpt --checksum --delete --itemize-changes "$@" \
    --exclude=/deploy.hosts --exclude='*.tmp' --exclude='*.migrate-tmp' --exclude='.*.deploy' \
    -e "$rsh" -- "$here/" "${h_dest[$i]}:$target/"
}

stage_dir_of() { local d=$1; echo "$(dirname -- "$d")/.$(basename -- "$d").deploy"; }

failed=0
summary=()
fail() {  # message: the host's outcome
  echo "   FAILED: $1" >&2
  summary+=("$label: FAILED, $1")
  failed=$((failed + 1))
}
for i in "${!h_dest[@]}"; do
  name=${h_name[$i]} dir=${h_dir[$i]}
  label="$name $dir"
  echo "== $label"
  if ((dry_run)); then
    if ! list=$(sync_to "$i" "$dir" --dry-run 2>&1); then
      printf '%s\n' "$list" | sed 's/^/   /' >&2
      fail "rsync --dry-run to $name failed (its message above); nothing changed"; continue
    fi
    changes=$(changes_of <<<"$list")
    if [[ -z $changes ]]; then
      echo "   no file would change; nothing would be restarted"
      summary+=("$label: up to date")
      continue
    fi
    sed 's/^/   would be /' <<<"$changes"
    echo "   would check: speeddata config check (on the staged files; a failure keeps the config in force)"
    if ((restart)) && needs_restart <<<"$changes"; then
      plan=$(remote "$i" plan 2>&1) || plan="(cannot tell: $plan)"
      echo "   would restart: $plan"
    else
      if ((restart)); then echo "   would restart: nothing (no file the services read would change)"
      else echo "   would restart: nothing (--no-restart)"; fi
    fi
    summary+=("$label: $(wc -l <<<"$changes") file(s) would change")
    continue
  fi

  if ! out=$(remote "$i" stage 2>&1); then
    printf '%s\n' "$out" | sed 's/^/   /' >&2
    fail "cannot prepare $dir on $name (ssh or the remote directory); nothing changed there"; continue
  fi
  if ! list=$(sync_to "$i" "$(stage_dir_of "$dir")" 2>&1); then
    printf '%s\n' "$list" | sed 's/^/   /' >&2
    remote "$i" discard >/dev/null 2>&1 || true
    fail "rsync to $name failed; the config in force is unchanged"; continue
  fi
  changes=$(changes_of <<<"$list")
  [[ -n $changes ]] && sed 's/^/   /' <<<"$changes"
  if ! out=$(remote "$i" check 2>&1); then
    printf '%s\n' "$out" | sed 's/^/   /' >&2
    remote "$i" discard >/dev/null 2>&1 || true
    fail "the config does not pass \`speeddata config check\` on $name: not installed, nothing restarted (the config in force is unchanged)"; continue
  fi
  printf '%s\n' "$out" | sed 's/^/   /'
  if ! out=$(remote "$i" install 2>&1); then
    printf '%s\n' "$out" | sed 's/^/   /' >&2
    fail "could not install the checked config in $dir on $name"; continue
  fi
  if [[ -z $changes ]]; then
    echo "   up to date; nothing restarted"
    summary+=("$label: up to date")
    continue
  fi
  if ((!restart)) || ! needs_restart <<<"$changes"; then
    echo "   installed; not restarted ($( ((restart)) && echo "no file the services read changed" || echo "--no-restart"))"
    summary+=("$label: installed")
    continue
  fi
  if ! out=$(remote "$i" restart 2>&1); then
    printf '%s\n' "$out" | sed 's/^/   /' >&2
    fail "installed, but the restart failed on $name"; continue
  fi
  printf '%s\n' "$out" | sed 's/^/   /'
  summary+=("$label: installed, $(tail -n 1 <<<"$out")")
done

echo "== $( ((dry_run)) && echo "dry run, nothing changed: " )${#h_dest[@]} host(s), $failed failed"
for s in "${summary[@]}"; do echo "   $s"; done
((failed == 0))
