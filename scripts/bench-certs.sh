#!/usr/bin/env bash
# bench-certs.sh — certbot, the lego CLI and v6-certs side by side against the same
# Pebble (v2.10, built from go.mod's tools) on [::1], with real HTTP-01 validation over
# IPv6 (pebble-challtestsrv answers AAAA ::1 and no A). Every figure is a whole process
# (exec to exit), as a timer or a user runs it. Prints medians, ratios, the load average
# of each scenario, and issue 12's targets beside the v6-certs medians (PASS or over):
#   1. one new certificate                         (RUNS runs each, V6_RUNS for v6-certs; a new name each)
#   2. BATCH_N new names: certbot and lego one after another, v6-certs in one call (BATCH_RUNS runs)
#   3. renew with nothing due, 1 lineage           (RUNS runs, V6_RUNS for v6-certs)
#   4. renew with nothing due, SCALE_N lineages    (RUNS runs, V6_RUNS for v6-certs; lego: LEGO_SCALE_RUNS loops of SCALE_N calls)
# Pebble runs with PEBBLE_VA_NOSLEEP=1 (no random 0–15 s sleep before each validation,
# which would measure Pebble, not the clients), PEBBLE_WFE_NONCEREJECT=0 (no injected
# bad nonces) and PEBBLE_AUTHZREUSE=0 (every order validates for real); it sends no
# Retry-After, so each client's own poll schedule is what the issuance rows measure.
# Wall, CPU (user+sys) and peak RSS come from GNU time (%e %U %S %M).
# Needs: certbot, lego, GNU time, openssl, python3 (`make bench-certs` installs them).
# Knobs: RUNS=3 V6_RUNS=9 BATCH_N=20 BATCH_RUNS=1 SCALE_N=1000 LEGO_SCALE_RUNS=1 BENCH_DIR=…
# About 5 minutes on 2 quiet CPUs, most of it certbot's and lego's 20 issuances one by one
# (BATCH_N=5 for a quicker look; the targets are for 20).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
V6_RUNS=${V6_RUNS:-9}
BATCH_N=${BATCH_N:-20}
BATCH_RUNS=${BATCH_RUNS:-1}
SCALE_N=${SCALE_N:-1000}
LEGO_SCALE_RUNS=${LEGO_SCALE_RUNS:-1}
W=${BENCH_DIR:-$(mktemp -d /tmp/bench-certs.XXXXXX)}
START=$EPOCHREALTIME
export GOFLAGS=${GOFLAGS:--mod=mod}
die() { echo "bench-certs: $*" >&2; exit 1; }
for b in certbot lego openssl python3 /usr/bin/time; do command -v "$b" >/dev/null || die "$b missing (make bench-certs installs it)"; done
mkdir -p "$W"/{bin,times,logs,tls}

echo "# building v6-certs, pebble, pebble-challtestsrv, benchclone into $W/bin" >&2
(cd "$ROOT" && go build -trimpath -o "$W/bin/v6-certs" ./cmd/v6-certs \
  && go build -o "$W/bin/pebble" github.com/letsencrypt/pebble/v2/cmd/pebble \
  && go build -o "$W/bin/pebble-challtestsrv" github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv \
  && go build -o "$W/bin/benchclone" ./acme/internal/benchclone)

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])'; }
API=$(free_port); MGMT=$(free_port); DNS=$(free_port); DNSM=$(free_port); HP=$(free_port); TP=$(free_port)

# Pebble's own HTTPS certificate for [::1] (not the issuing CA).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=bench API CA" \
  -keyout "$W/tls/ca.key" -out "$W/tls/ca.pem" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$W/tls/key.pem" -out "$W/tls/csr.pem" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:::1\nextendedKeyUsage=serverAuth\n' > "$W/tls/ext.cnf"
openssl x509 -req -in "$W/tls/csr.pem" -CA "$W/tls/ca.pem" -CAkey "$W/tls/ca.key" -CAcreateserial \
  -days 30 -extfile "$W/tls/ext.cnf" -out "$W/tls/cert.pem" 2>/dev/null
cat > "$W/pebble.json" <<JSON
{"pebble": {"listenAddress": "[::1]:$API", "managementListenAddress": "[::1]:$MGMT",
  "certificate": "$W/tls/cert.pem", "privateKey": "$W/tls/key.pem", "httpPort": $HP, "tlsPort": $TP,
  "ocspResponderURL": "", "externalAccountBindingRequired": false, "keyAlgorithm": "ecdsa",
  "profiles": {"default": {"description": "90 days", "validityPeriod": 7776000}}}}
JSON
"$W/bin/pebble-challtestsrv" -dnsserver "[::1]:$DNS" -management "[::1]:$DNSM" -http01 "" -https01 "" \
  -tlsalpn01 "" -doh "" -defaultIPv6 ::1 -defaultIPv4 "" >"$W/logs/challtestsrv.log" 2>&1 &
CPID=$!
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
  "$W/bin/pebble" -config "$W/pebble.json" -dnsserver "[::1]:$DNS" >"$W/logs/pebble.log" 2>&1 &
PPID_=$!
trap 'kill $PPID_ $CPID 2>/dev/null || true' EXIT
DIR="https://[::1]:$API/dir"; CA="$W/tls/ca.pem"
for _ in $(seq 100); do curl -fsS --cacert "$CA" "$DIR" -o /dev/null 2>/dev/null && break; sleep 0.1; done
curl -fsS --cacert "$CA" "$DIR" -o /dev/null || die "pebble did not start (see $W/logs/pebble.log)"
export REQUESTS_CA_BUNDLE="$CA" LEGO_CA_CERTIFICATES="$CA" DIR CA HP W

cb()    { local d=$1; shift; certbot -n --config-dir "$d/etc" --work-dir "$d/work" --logs-dir "$d/log" --server "$DIR" "$@"; }
cbiss() { cb "$1" certonly --standalone --http-01-address ::1 --http-01-port "$HP" -d "$2"; }
lg()    { local p=$1; shift; lego --server "$DIR" --accept-tos --email bench@example.org --path "$p" --http --http.port "[::1]:$HP" "$@"; }
v6()    { local d=$1; shift; "$W/bin/v6-certs" "$1" --dir "$d" --server "$DIR" --ca-cert "$CA" "${@:2}"; }
v6iss() { local d=$1; shift; v6 "$d" obtain --listen "[::1]:$HP" --separate $(printf -- '-d %s ' "$@"); }
export -f cb cbiss lg v6 v6iss

# timed LABEL CMD…: wall from EPOCHREALTIME (µs), CPU and peak RSS from GNU time.
timed() { local label=$1; shift; local t0 t1 e u s m
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%e %U %S %M' -o "$W/times/.$label.last" bash -c '"$@"' _ "$@" >>"$W/logs/$label.log" 2>&1 \
    || { echo "FAILED: $label (see $W/logs/$label.log)" >&2; tail -5 "$W/logs/$label.log" >&2; exit 1; }
  t1=$EPOCHREALTIME
  read -r e u s m < "$W/times/.$label.last"
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}') $u $s $m" >> "$W/times/$label"
}
# med LABEL FIELD: median of wall (1), cpu (2) or rss MB (3)
med() { awk -v f="$2" '{ v = (f==1) ? $1 : (f==2) ? $2+$3 : $4/1024; a[NR]=v }
  END { n=NR; for(i=1;i<=n;i++) for(j=i+1;j<=n;j++) if (a[j]<a[i]) { t=a[i]; a[i]=a[j]; a[j]=t }
        if (n==0) { print "nan"; exit } print (n%2) ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2 }' "$W/times/$1"; }

# load SCENARIO: the 1-minute load average when a scenario starts (printed in the table).
declare -A LOAD
load() { LOAD[$1]=$(cut -d' ' -f1 /proc/loadavg); }

echo "# set-up: accounts and warm-up" >&2
cb "$W/cb" register --agree-tos --register-unsafely-without-email >>"$W/logs/setup.log" 2>&1
cbiss "$W/cb" warm.cb.test >>"$W/logs/setup.log" 2>&1
lg "$W/lg" -d warm.lg.test run >>"$W/logs/setup.log" 2>&1
v6iss "$W/v6" warm.v6.test >>"$W/logs/setup.log" 2>&1

echo "# 1. one new certificate, $RUNS runs each ($V6_RUNS for v6-certs)" >&2
load issue
for i in $(seq "$V6_RUNS"); do
  if [ "$i" -le "$RUNS" ]; then
    timed certbot_issue cbiss "$W/cb" "one$i.cb.test"
    timed lego_issue lg "$W/lg" -d "one$i.lg.test" run
  fi
  timed v6_issue v6iss "$W/v6" "one$i.v6.test"
done

echo "# 2. $BATCH_N new names, $BATCH_RUNS run(s)" >&2
load batch
for r in $(seq "$BATCH_RUNS"); do
  names=(); for k in $(seq "$BATCH_N"); do names+=("b$k.r$r"); done
  # One tool at a time: each binds the HTTP-01 port for its own challenge server.
  timed certbot_batch bash -c 'for n in "${@:2}"; do cbiss "$1" "$n.cb.test" || exit 1; done' _ "$W/cb" "${names[@]}"
  timed lego_batch bash -c 'for n in "${@:2}"; do lg "$1" -d "$n.lg.test" run || exit 1; done' _ "$W/lg" "${names[@]}"
  timed v6_batch bash -c 'v6iss "$1" $(printf "%s.v6.test " "${@:2}")' _ "$W/v6" "${names[@]}"
done

echo "# 3. renew, nothing due, 1 lineage" >&2
cb "$W/cb1" register --agree-tos --register-unsafely-without-email >>"$W/logs/setup.log" 2>&1
cbiss "$W/cb1" site.test >>"$W/logs/setup.log" 2>&1
v6iss "$W/v61" site.test >>"$W/logs/setup.log" 2>&1
load renew1
for i in $(seq "$V6_RUNS"); do
  if [ "$i" -le "$RUNS" ]; then
    timed certbot_renew1 cb "$W/cb1" renew --no-random-sleep-on-renew
    timed lego_renew1 lg "$W/lg" -d warm.lg.test renew --days 30 --no-random-sleep
  fi
  timed v6_renew1 v6 "$W/v61" renew
done

echo "# 4. renew, nothing due, $SCALE_N lineages (cloning…)" >&2
cp -a "$W/cb1" "$W/cbN"
E="$W/cbN/etc"
for i in $(seq -w 1 "$SCALE_N"); do
  n="site-$i.test"
  mkdir -p "$E/archive/$n" "$E/live/$n"
  cp "$E"/archive/site.test/*1.pem "$E/archive/$n/"
  for k in cert chain fullchain privkey; do ln -s "../../archive/$n/${k}1.pem" "$E/live/$n/$k.pem"; done
  sed "s#/cb1/etc/#/cbN/etc/#g; s#/site\.test/#/$n/#g; s#/site\.test\$#/$n#" "$E/renewal/site.test.conf" > "$E/renewal/$n.conf"
done
cp -a "$W/lg" "$W/lgN"
C="$W/lgN/certificates"
for i in $(seq -w 1 "$SCALE_N"); do
  for ext in crt key issuer.crt; do cp "$C/warm.lg.test.$ext" "$C/site-$i.test.$ext"; done
  sed "s/warm\.lg\.test/site-$i.test/g" "$C/warm.lg.test.json" > "$C/site-$i.test.json"
done
"$W/bin/benchclone" -dir "$W/v61" -from site.test -n "$((SCALE_N - 1))"
load renewN
for i in $(seq "$V6_RUNS"); do
  [ "$i" -gt "$RUNS" ] || timed certbot_renewN cb "$W/cbN" renew --no-random-sleep-on-renew
  timed v6_renewN v6 "$W/v61" renew
done
for i in $(seq "$LEGO_SCALE_RUNS"); do
  timed lego_renewN bash -c 'for i in $(seq -w 1 "$2"); do lg "$1" -d "site-$i.test" renew --days 30 --no-random-sleep >/dev/null || exit 1; done' _ "$W/lgN" "$SCALE_N"
done
grep -c "not yet due" "$W/logs/certbot_renewN.log" >/dev/null || true
# Prove the nothing-due runs renewed nothing: every v6 renew printed nothing.
[ ! -s "$W/logs/v6_renewN.log" ] || die "v6-certs renew printed something when nothing was due: $W/logs/v6_renewN.log"

row() { # label certbot lego v6 scenario
  local cw lw vw
  cw=$(med "$2" 1); lw=$(med "$3" 1); vw=$(med "$4" 1)
  printf '| %s | %s | %.3f s, %.2f s CPU, %.0f MB | %.3f s, %.2f s CPU, %.0f MB | **%.3f s**, %.2f s CPU, %.0f MB | %.0fx | %.0fx |\n' "$1" "${LOAD[$5]}" \
    "$cw" "$(med "$2" 2)" "$(med "$2" 3)" "$lw" "$(med "$3" 2)" "$(med "$3" 3)" "$vw" "$(med "$4" 2)" "$(med "$4" 3)" \
    "$(awk -v a="$cw" -v b="$vw" 'BEGIN{print (b>0)?a/b:0}')" "$(awk -v a="$lw" -v b="$vw" 'BEGIN{print (b>0)?a/b:0}')"
}
# target LABEL LIMIT_S TIMES: the v6-certs median against issue 12's target.
target() { local m; m=$(med "$3" 1)
  printf '| %s | ≤ %s s | %.3f s (n=%s) | %s |\n' "$1" "$2" "$m" "$(wc -l < "$W/times/$3")" \
    "$(awk -v m="$m" -v t="$2" 'BEGIN{ if (m <= t) print "PASS"; else printf "over by %.0f %%\n", (m/t-1)*100 }')"
}
echo
echo "Medians, wall / CPU (user+sys) / peak RSS; real HTTP-01 over [::1] against Pebble $(cd "$ROOT" && go list -m -f '{{.Version}}' github.com/letsencrypt/pebble/v2); certbot $(dpkg-query -W -f '${Version}' certbot 2>/dev/null || certbot --version 2>&1), lego $(dpkg-query -W -f '${Version}' lego 2>/dev/null || echo '?'); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| scenario | load (1 min) | certbot | lego CLI | v6-certs | certbot / v6-certs | lego / v6-certs |"
echo "|---|---|---|---|---|---|---|"
row "one new certificate (n=$RUNS; v6-certs n=$V6_RUNS)" certbot_issue lego_issue v6_issue issue
row "$BATCH_N new names (certbot, lego one after another; v6-certs one call; n=$BATCH_RUNS)" certbot_batch lego_batch v6_batch batch
row "renew, nothing due, 1 lineage (n=$RUNS; v6-certs n=$V6_RUNS)" certbot_renew1 lego_renew1 v6_renew1 renew1
row "renew, nothing due, $SCALE_N lineages (n=$RUNS; v6-certs n=$V6_RUNS; lego: $SCALE_N calls, n=$LEGO_SCALE_RUNS)" certbot_renewN lego_renewN v6_renewN renewN
echo
echo "Targets (issue 12), v6-certs medians as whole processes; on a machine with load above $(nproc) they are not comparable:"
echo
echo "| target | limit | v6-certs median | verdict |"
echo "|---|---|---|---|"
target "one new certificate" 0.30 v6_issue
target "$BATCH_N new names in one call" 1.0 v6_batch
target "renew, nothing due, $SCALE_N lineages" 0.1 v6_renewN
echo
echo "load average now $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs; the bench took $(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}') s"
echo "raw times and logs: $W"
