#!/bin/sh
# A minimal stand-in for the SSM agent's reboot handling, inside the guest of the real-reboot
# test (tests/it/real_reboot.rs); agent-standin.service runs it at every boot. It runs the
# document's step (/etc/agent-standin/step.sh: the PatchLinux script with the parameters filled
# in) with the agent's environment (/etc/agent-standin/environment), as the agent runs a Run
# Command step: exit 194 asks for a reboot, so the machine reboots and the step runs again at the
# next boot; any other exit code ends the command and the machine powers off.
# Every event is one line `boot N: …` on the second serial port (ttyS1), which the host reads,
# its facts separated by `; ` (the kernel's boot time, the uptime, how long the step took, the
# package's version, the reboot markers); the step's output follows its exit line, each line as
# `boot N: | …`.
# From the kernel command line (the host sets it for each virtual machine):
#   agent_standin.ssm_endpoint=URL   the SSM endpoint (AWS_ENDPOINT_URL_SSM)
#   agent_standin.skip_reboots=K     answer the first K reboot requests by running the step again
#                                    at once, without rebooting (an agent that could not reboot)
#   agent_standin.package=NAME       the package whose installed version each line shows
# At most 3 boots: a 4th powers off at once (a reboot loop is a failure the host sees).
set -u
state=/var/lib/agent-standin
records=/dev/ttyS1
ssm=/var/log/amazon/ssm

endpoint='' skip_reboots=0 package=''
read -r cmdline < /proc/cmdline
for word in $cmdline; do
  case "$word" in
    agent_standin.ssm_endpoint=*) endpoint=${word#*=} ;;
    agent_standin.skip_reboots=*) skip_reboots=${word#*=} ;;
    agent_standin.package=*) package=${word#*=} ;;
  esac
done

mkdir -p "$state"
boot=$(($(cat "$state/boots" 2>/dev/null || echo 0) + 1))
echo "$boot" > "$state/boots"
sync

say() { printf 'boot %s: %s\n' "$boot" "$*" > "$records"; }

# The package's installed version and the reboot markers: `194(1)` is the marker folder of
# exit 194 with one reboot request recorded.
facts() {
  version=$(dpkg-query -W -f '${Version}' "$package" 2>/dev/null) || version=none
  markers=''
  for marker in "$ssm"/patch-baseline-operations-*; do
    [ -d "$marker" ] || continue
    requests=$(find "$marker/requests" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
    markers="$markers${markers:+ }${marker##*-}($requests)"
  done
  printf '%s %s; markers %s' "$package" "$version" "${markers:-none}"
}

stop() {
  say "$1"
  sync
  systemctl --no-block "$1"
  exit 0
}

say "up; btime $(awk '$1 == "btime" { print $2 }' /proc/stat); uptime $(cut -d' ' -f1 /proc/uptime); $(facts)"
[ "$boot" -le 3 ] || stop poweroff

while :; do
  start=$(date +%s)
  (
    set -a
    # shellcheck source=/dev/null
    . /etc/agent-standin/environment
    export AWS_ENDPOINT_URL_SSM="$endpoint"
    exec sh /etc/agent-standin/step.sh
  ) > "$state/step.out" 2>&1
  code=$?
  say "step exit $code; took $(($(date +%s) - start)) s; $(facts)"
  while IFS= read -r line; do
    say "| $line"
  done < "$state/step.out"
  [ "$code" = 194 ] || stop poweroff
  skipped=$(cat "$state/skipped" 2>/dev/null || echo 0)
  if [ "$skipped" -lt "$skip_reboots" ]; then
    echo $((skipped + 1)) > "$state/skipped"
    say "not rebooting: the step runs again"
    continue
  fi
  stop reboot
done
