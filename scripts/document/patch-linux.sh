#!/bin/sh
# PatchLinux: the one step of the patch-baseline SSM document, and every shell step of the
# hooks document (scripts/gen-document sets `step` below for each). Downloads the
# patch-baseline release (curl or wget; with ReleaseSource S3 the document's DownloadRelease step,
# aws:downloadContent, has fetched it), checks its SHA-256 (sha256sum), extracts it, and runs
# `patch-baseline run` with the document's parameters; its exit code is this step's, so 194
# makes the SSM agent reboot the machine and run the step again. In the hooks document 168 ends
# the document early (success) and 169 ends it as failed; the on-exit hook, its final step, runs
# either way.
# The agent fills in the parameters (in double braces); their allowed patterns keep quotes out.
# PATCH_BASELINE_ROOT (unset on instances) points the step at another root, for tests.
set -u
step='run'
operation='{{ Operation }}'
snapshot_id='{{ SnapshotId }}'
install_override_list='{{ InstallOverrideList }}'
install_plan='{{ InstallPlan }}'
allow_plan_drift='{{ AllowPlanDrift }}'
max_duration='{{ MaxDuration }}'
reboot_option='{{ RebootOption }}'
baseline_override='{{ BaselineOverride }}'
upload_override_compliance='{{ UploadOverrideCompliance }}'
release_source='{{ ReleaseSource }}'
release_url='{{ ReleaseUrl }}'
release_sha256=$(printf '%s' '{{ ReleaseSha256 }}' | tr 'A-F' 'a-f')
# The release for this machine's architecture (PATCH_BASELINE_MACHINE stands in for uname -m in
# tests).
machine=${PATCH_BASELINE_MACHINE:-$(uname -m)}
case "$machine" in
  x86_64 | amd64) ;;
  aarch64 | arm64)
    release_sha256=$(printf '%s' '{{ ReleaseSha256Aarch64 }}' | tr 'A-F' 'a-f')
    if [ "$release_source" = S3 ]; then
      # The S3 folder in ReleaseUrl holds both tarballs; the SHA-256 picks this one.
      if [ -z "$release_sha256" ]; then
        echo "this machine is $machine: give the aarch64 release's SHA-256 (ReleaseSha256Aarch64)" >&2
        exit 146
      fi
    else
      release_url='{{ ReleaseUrlAarch64 }}'
      if [ -z "$release_url" ] || [ -z "$release_sha256" ]; then
        echo "this machine is $machine: give the aarch64 release (ReleaseUrlAarch64, ReleaseSha256Aarch64)" >&2
        exit 146
      fi
    fi
    ;;
  *)
    echo "no patch-baseline release for this machine's architecture, $machine (there are x86_64 and aarch64 ones)" >&2
    exit 146
    ;;
esac
root=${PATCH_BASELINE_ROOT:-/}
dir="${root%/}/var/lib/amazon/patch-baseline"
release="$dir/release-$release_sha256"
# Where the DownloadRelease step (ReleaseSource S3) puts what it fetched: the object, or the
# folder's files.
s3_release_dir="$dir/s3-release"

if [ ! -x "$release/patch-baseline" ]; then
  mkdir -p "$dir" || { echo "Unable to create dir: $dir" >&2; exit 154; }
  tmp=$(mktemp -d "$dir/.download.XXXXXX") || { echo "Unable to create dir: $dir" >&2; exit 154; }
  if [ "$release_source" = S3 ]; then
    # The file whose SHA-256 is this machine's release; what else was fetched is left out.
    found='' sums=''
    if [ -d "$s3_release_dir" ]; then
      sums=$(find "$s3_release_dir" -type f -exec sha256sum {} +)
      found=$(printf '%s\n' "$sums" | awk -v want="$release_sha256" '$1 == want { sub(/^[0-9a-f]+  /, ""); print; exit }')
    fi
    if [ -z "$sums" ]; then
      rm -rf "$tmp"
      echo "Unable to download payload: $release_url (the DownloadRelease step left nothing in $s3_release_dir)" >&2
      exit 156
    fi
    if [ -z "$found" ]; then
      rm -rf "$tmp"
      actual=$(printf '%s\n' "$sums" | sed "s|  $s3_release_dir/| |" | tr '\n' ',' | sed 's/,$//')
      echo "$release_url sha256 check failed, should be $release_sha256, but is: $actual" >&2
      exit 151
    fi
    mv "$found" "$tmp/release.tar.gz" || { rm -rf "$tmp"; echo "Unable to create dir: $tmp" >&2; exit 154; }
  elif command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$tmp/release.tar.gz" "$release_url" \
      || { rm -rf "$tmp"; echo "Unable to download payload: $release_url" >&2; exit 156; }
  else
    wget -q --tries=3 -O "$tmp/release.tar.gz" "$release_url" \
      || { rm -rf "$tmp"; echo "Unable to download payload: $release_url" >&2; exit 156; }
  fi
  # Checked again after the move: the file is this step's own from here on.
  if ! printf '%s  %s\n' "$release_sha256" "$tmp/release.tar.gz" | sha256sum -c --status -; then
    actual=$(sha256sum "$tmp/release.tar.gz" | cut -d' ' -f1)
    rm -rf "$tmp"
    echo "$release_url sha256 check failed, should be $release_sha256, but is $actual" >&2
    exit 151
  fi
  if ! tar -xzf "$tmp/release.tar.gz" -C "$tmp" --no-same-owner --no-same-permissions \
      || [ ! -x "$tmp/patch-baseline" ]; then
    rm -rf "$tmp"
    echo "Unable to extract tar file: $release_url" >&2
    exit 155
  fi
  rm -f "$tmp/release.tar.gz"
  rm -rf "$release"
  mv "$tmp" "$release" || { rm -rf "$tmp"; echo "Unable to create dir: $release" >&2; exit 154; }
fi
# A release already here was not needed again: what DownloadRelease fetched goes.
rm -rf "$s3_release_dir"

pb="$release/patch-baseline"
if [ "$step" = run ]; then
  drift=
  if [ "$allow_plan_drift" = Yes ]; then drift=--allow-plan-drift; fi
  window=
  if [ -n "$max_duration" ]; then window="--max-duration=$max_duration"; fi
  exec "$pb" run --root "$root" --operation "$operation" \
    --snapshot-id "$snapshot_id" --install-override-list "$install_override_list" \
    --install-plan "$install_plan" ${drift:+"$drift"} ${window:+"$window"} \
    --reboot-option "$reboot_option" --baseline-override "$baseline_override" \
    --upload-override-compliance "$upload_override_compliance"
fi

# The hooks document's steps share one snapshot id: the one given, else one made by the scan.
shared="$dir/hooks-snapshot-id"
if [ -z "$snapshot_id" ]; then
  if [ "$step" = hooks-scan ] || [ ! -s "$shared" ]; then
    cat /proc/sys/kernel/random/uuid > "$shared" || exit 169
  fi
  snapshot_id=$(cat "$shared")
fi
summary() { "$pb" last-summary --root "$root" "$1"; }
case "$step" in
  hooks-scan)
    "$pb" run --root "$root" --operation Scan --snapshot-id "$snapshot_id" \
      --reboot-option "$reboot_option" || exit 169
    [ "$operation" = Install ] || exit 168
    missing=$(summary MissingCount) || exit 169
    pending=$(summary InstalledPendingRebootCount) || exit 169
    if [ "$missing" = 0 ] && { [ "$pending" = 0 ] || [ "$reboot_option" = NoReboot ]; }; then
      echo "nothing to install and no reboot due: on to the on-exit hook"
      exit 168
    fi
    ;;
  hooks-install)
    "$pb" run --root "$root" --operation Install --snapshot-id "$snapshot_id" \
      --reboot-option NoReboot || exit 169
    ;;
  hooks-reboot)
    [ "$reboot_option" != NoReboot ] || exit 0
    pending=$(summary InstalledPendingRebootCount) || exit 169
    [ "$pending" != 0 ] || exit 0
    "$pb" run --root "$root" --operation Install --snapshot-id "$snapshot_id" \
      --reboot-option "$reboot_option"
    code=$?
    [ "$code" = 0 ] || [ "$code" = 194 ] || exit 169
    exit "$code"
    ;;
  *)
    echo "unknown step $step" >&2
    exit 169
    ;;
esac
