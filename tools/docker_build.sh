#!/usr/bin/env bash
# Builds docker/Dockerfile into the image tervit:<commit> (also tagged tervit:latest) and writes it as a
# docker-archive (the format every `docker load` and `podman load` reads), then checks it from inside
# (docker/image_selftest.sh). Without a Docker daemon it builds with podman, and where podman cannot start
# containers (as on machines without cgroups v2) with buildah in chroot isolation. When the base image is
# not at hand it is made: a minimal Debian 12 from debootstrap, imported as localhost/debian12-base:bookworm.
#   bash tools/docker_build.sh [--tool docker|podman|buildah] [--base IMAGE] [--archive FILE] [--no-check]
# Debian's packages: debootstrap and buildah (podman optional); the work folder (root file system, the
# private containers.conf) is ${TERVIT_IMAGE_WORK:-/var/tmp/tervit-image}.
set -euo pipefail
cd "$(dirname "$0")/.."
tool="" base=localhost/debian12-base:bookworm archive="" check=1
while (($#)); do
  case "$1" in
    --tool) tool=${2:?}; shift 2 ;;
    --base) base=${2:?}; shift 2 ;;
    --archive) archive=${2:?}; shift 2 ;;
    --no-check) check=0; shift ;;
    *) echo "usage: $0 [--tool docker|podman|buildah] [--base IMAGE] [--archive FILE] [--no-check]" >&2; exit 2 ;;
  esac
done
work=${TERVIT_IMAGE_WORK:-/var/tmp/tervit-image}
mkdir -p "$work" out
# podman's and buildah's default open-file limit exceeds the hard limit on some machines; a private
# configuration leaves /etc alone.
printf '[containers]\ndefault_ulimits = []\n' > "$work/containers.conf"
export CONTAINERS_CONF=$work/containers.conf

if [ -z "$tool" ]; then
  if docker info >/dev/null 2>&1; then tool=docker
  elif command -v podman >/dev/null && podman image exists "$base" 2>/dev/null &&
       podman run --rm "$base" true >/dev/null 2>&1; then tool=podman
  elif command -v buildah >/dev/null; then tool=buildah
  else echo "docker_build: no docker daemon, podman or buildah (apt-get install buildah)" >&2; exit 2
  fi
fi
case "$tool" in
  docker) image_exists() { docker image inspect "$1" >/dev/null 2>&1; } ;;
  podman) image_exists() { podman image exists "$1"; } ;;
  buildah) image_exists() { buildah inspect --type image "$1" >/dev/null 2>&1; } ;;
  *) echo "docker_build: --tool must be docker, podman or buildah, not '$tool'" >&2; exit 2 ;;
esac
echo "[docker_build] tool: $tool"

seconds() { date +%s; }
if ! image_exists "$base"; then
  [ "$base" = localhost/debian12-base:bookworm ] || { echo "docker_build: base image $base not found" >&2; exit 2; }
  # The mirrors this machine's apt uses (deb822 sources on Debian 12), else Debian's own.
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  security=$(awk '/^URIs:/ && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  mirror=${mirror:-http://deb.debian.org/debian} security=${security:-http://deb.debian.org/debian-security}
  start=$(seconds)
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" > "$work/debootstrap.log"
  rm -f "$work/rootfs/etc/apt/sources.list"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "$security" > "$work/rootfs/etc/apt/sources.list.d/debian.sources"
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  case "$tool" in
    docker|podman) tar -C "$work/rootfs" -c . | "$tool" import - "$base" >/dev/null ;;
    buildah)
      container=$(buildah from scratch)
      tar -C "$work/rootfs" -c . | tar -C "$(buildah mount "$container")" -x
      buildah umount "$container" >/dev/null
      buildah commit -q "$container" "$base" >/dev/null
      buildah rm "$container" >/dev/null ;;
  esac
  rm -rf "$work/rootfs"
  echo "[docker_build] base $base made with debootstrap ($mirror) in $(( $(seconds) - start )) s"
fi

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD || commit="$commit-dirty"
image=tervit:$commit
build_args=(-f docker/Dockerfile --build-arg "BASE_IMAGE=$base" -t "$image" -t tervit:latest)
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ ! -s "$ca_bundle" ] || build_args+=(--secret "id=ca_bundle,src=$ca_bundle")
start=$(seconds)
case "$tool" in
  docker) DOCKER_BUILDKIT=1 docker build "${build_args[@]}" . ;;
  podman) podman build --ignorefile docker/Dockerfile.dockerignore "${build_args[@]}" . ;;
  buildah) buildah bud --isolation chroot --layers --ignorefile docker/Dockerfile.dockerignore "${build_args[@]}" . ;;
esac
build_seconds=$(( $(seconds) - start ))

archive=${archive:-out/tervit-$commit.tar}
start=$(seconds)
rm -f "$archive"
case "$tool" in
  docker) docker save -o "$archive" "$image" ;;
  podman) podman save --format docker-archive -o "$archive" "$image" ;;
  buildah) buildah push -q "$image" "docker-archive:$archive:$image" ;;
esac
archive_seconds=$(( $(seconds) - start ))
case "$tool" in
  docker) size=$(docker image inspect -f '{{.Size}}' "$image") ;;
  *) size=$(podman image inspect --format '{{.Size}}' "$image" 2>/dev/null || buildah inspect --type image --format '{{.ImageSize}}' "$image" 2>/dev/null || echo 0) ;;
esac
echo "[docker_build] $image: built in $build_seconds s; image $(( size / 1000000 )) MB;" \
  "archive $archive $(( $(stat -c %s "$archive") / 1000000 )) MB in $archive_seconds s"

((check)) || exit 0
# The check mounts the checkout (the tests' fixtures and scripts) and ../shared read-only.
mounts=(-v "$PWD:/src:ro")
[ -d ../shared ] && mounts+=(-v "$(cd ../shared && pwd):/shared:ro")
case "$tool" in
  docker|podman) "$tool" run --rm "${mounts[@]}" --entrypoint bash "$image" /src/docker/image_selftest.sh ;;
  buildah)
    container=$(buildah from "$image")
    trap 'buildah rm "$container" >/dev/null' EXIT
    buildah run --isolation chroot "${mounts[@]}" "$container" -- bash /src/docker/image_selftest.sh ;;
esac
