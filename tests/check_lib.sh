# Shared by the shell tests: each check records problems with `want`, then `finish NAME` prints
# "ok - NAME" or "not ok - NAME" with the problems (and the last command's stderr, from
# $T/stderr). The caller sets T (its temporary folder) and prints the totals:
#   echo "NAME: $passed passed, $failed failed"
passed=0
failed=0
problems=()

# want DESCRIPTION COMMAND...: records DESCRIPTION as a problem unless COMMAND succeeds.
want() {
  local what=$1
  shift
  "$@" || problems+=("$what")
}

# finish NAME: reports the check named NAME from the problems recorded since the last one.
finish() {
  if [ ${#problems[@]} -eq 0 ]; then
    echo "ok - $1"
    passed=$((passed + 1))
  else
    echo "not ok - $1"
    local p
    for p in "${problems[@]}"; do echo "#   $p"; done
    if [ -s "$T/stderr" ]; then sed 's/^/#   stderr: /' "$T/stderr" | head -n 20; fi
    failed=$((failed + 1))
  fi
  problems=()
}

# The number of lines of a file.
lines() { awk 'END { print NR }' "$1"; }

# Single-step checks: ok NAME / not_ok NAME.
ok() {
  echo "ok - $1"
  passed=$((passed + 1))
}
not_ok() {
  echo "not ok - $1"
  failed=$((failed + 1))
}
# verdict NAME: ok NAME when the command just before succeeded, else not_ok NAME.
verdict() {
  if [ $? -eq 0 ]; then ok "$1"; else not_ok "$1"; fi
}
