#!/bin/sh
# Load the production Asterisk configuration (asterisk-config/ + deploy/asterisk-image/etc/, as
# deploy/asterisk-image/Dockerfile lays it out, with freshly generated secrets and the example
# pjsip_local) in the sandbox's Debian chroot, and check what a container would do with it:
# every module loads, the TLS and UDP transports and the carrier trunk exist, TLS answers with the
# generated certificate, ARI has its user,
# and SIP from an address outside the allow-list is refused (403) while an allowed one gets past it.
#
# Isolated from the running sandbox: a private mount namespace gives this Asterisk its own
# /etc/asterisk, run, log, lib and spool directories (the sandbox's control socket, database and
# logs are never touched), and it listens on other loopback ports (HTTP 18088, SIP 15060/15061,
# RTP 31000-31199). Needs root, unshare, nsenter and a built sandbox (`duncall asterisk up`).
#
#   tools/check-production-asterisk.sh            exit 0 when every check passes
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$REPO/.venv/bin/python}
ROOT=$("$PY" -c "from duncall.sandbox import runtime; print(runtime.sandbox().root)")
[ -x "$ROOT/usr/sbin/asterisk" ] || { echo "check-production-asterisk: no sandbox at $ROOT (duncall asterisk up)" >&2; exit 2; }
NAME="prodcheck-$$"
T="$ROOT/tmp/$NAME"   # seen inside the chroot as /tmp/$NAME
OUT=$(mktemp)
PID=""

cleanup() {
    if [ -s "$T.pid" ]; then kill "$(cat "$T.pid")" 2>/dev/null || true; sleep 1; fi
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    rm -rf "$T" "$OUT" "$T.run.sh" "$T.pid"
}
trap cleanup EXIT INT TERM HUP PIPE

mkdir -p "$T/etc" "$T/lib" "$T/log" "$T/spool"
cp "$REPO"/asterisk-config/*.conf "$T/etc/"
cp "$REPO"/deploy/asterisk-image/etc/* "$T/etc/"
cat "$T/etc/modules-production.conf" >> "$T/etc/modules.conf"
rm "$T/etc/modules-production.conf"
python3 "$REPO/tools/compose_secrets.py" "$T/secrets" >/dev/null
rm -f "$T/secrets/pjsip_local"
# The example, reachable on loopback, with 127.0.0.1 allowed (the check's second probe).
sed -e 's|sip.carrier.example|127.0.0.1|g' -e 's|^permit = 192.0.2.0/28|permit = 192.0.2.0/28\npermit = 127.0.0.2/32|' \
    "$REPO/deploy/asterisk-image/pjsip_local.conf.example" > "$T/secrets/pjsip_local"
sed -i "s|/run/secrets|/tmp/$NAME/secrets|g" "$T"/etc/*.conf
sed -i 's|bindaddr = 0.0.0.0|bindaddr = 127.0.0.1|; s|bindport = 8088|bindport = 18088|' "$T/etc/http.conf"
sed -i 's|0.0.0.0:5061|127.0.0.1:15061|; s|0.0.0.0:5060|127.0.0.1:15060|' "$T/etc/pjsip.conf"
sed -i 's|rtpstart = 20000|rtpstart = 31000|; s|rtpend = 20199|rtpend = 31199|' "$T/etc/rtp.conf"
uid=$(chroot "$ROOT" id -u asterisk)
chown -R "$uid:$uid" "$T"

cat > "$T.run.sh" <<EOF
#!/bin/sh
set -e
mount -t tmpfs tmpfs "$ROOT/run/asterisk"
chown $uid:$uid "$ROOT/run/asterisk"
mount --bind "$T/etc" "$ROOT/etc/asterisk"
mount --bind "$T/lib" "$ROOT/var/lib/asterisk"
mount --bind "$T/log" "$ROOT/var/log/asterisk"
mount --bind "$T/spool" "$ROOT/var/spool/asterisk"
chroot "$ROOT" /usr/sbin/asterisk -U asterisk -G asterisk -f &
echo \$! > "$T.pid"
wait
EOF
chmod +x "$T.run.sh"
unshare -m --propagation private "$T.run.sh" > "$OUT" 2>&1 &
PID=$!
cli() { nsenter -t "$AST" -m chroot "$ROOT" /usr/sbin/asterisk -rx "$1"; }
AST=""
for _ in $(seq 1 30); do
    sleep 1
    [ -s "$T.pid" ] || continue
    AST=$(cat "$T.pid")
    cli "core show uptime" >/dev/null 2>&1 && break
    AST=""
done
[ -n "$AST" ] || { echo "check-production-asterisk: Asterisk did not start" >&2; cat "$OUT" >&2; exit 1; }
sleep 2  # the loader's last messages

fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
check "no module failed to load" "! grep -q 'declined to load\|Failed to resolve' '$OUT'"
check "chan_pjsip, res_pjsip_acl, res_srtp running" \
    "[ \$(cli 'module show like pjsip' | grep -v 'Not Running' | grep Running | grep -c 'chan_pjsip.so\|res_pjsip_acl.so') = 2 ] && cli 'module show like srtp' | grep -v 'Not Running' | grep -q Running"
check "TLS and UDP transports" "cli 'pjsip show transports' > '$T/tr'; grep -q 'transport-tls *tls' '$T/tr' && grep -q 'transport-udp *udp' '$T/tr' || { cat '$T/tr'; false; }"
check "carrier trunk: TLS, SRTP, G.711, RFC 4733, PAI" \
    "cli 'pjsip show endpoint carrier' > '$T/ep' && grep -q 'media_encryption *: sdes' '$T/ep' && grep -q 'transport *: transport-tls' '$T/ep' && grep -q 'allow *: (ulaw|alaw)' '$T/ep' && grep -q 'dtmf_mode *: rfc4733' '$T/ep' && grep -q 'send_pai *: true' '$T/ep'"
check "TLS on the SIP port with the generated certificate" \
    "echo | timeout 10 openssl s_client -connect 127.0.0.1:15061 -CAfile '$T/secrets/sip_tls_cert' -verify_hostname duncall-sip -verify_return_error 2>/dev/null | grep -q 'Verify return code: 0 (ok)'"
check "ARI user from the secret" "cli 'ari show users' | grep -q ' duncall'"
sip() {
    python3 - "$1" <<'PY'
import socket, sys, uuid
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 0)); s.settimeout(3)
lp, cid = s.getsockname()[1], uuid.uuid4().hex
msg = (f"OPTIONS sip:carrier@127.0.0.1:15060 SIP/2.0\r\nVia: SIP/2.0/UDP {sys.argv[1]}:{lp};branch=z9hG4bK{cid[:10]};rport\r\n"
       f"Max-Forwards: 70\r\nTo: <sip:carrier@127.0.0.1>\r\nFrom: <sip:probe@{sys.argv[1]}>;tag={cid[:8]}\r\n"
       f"Call-ID: {cid}\r\nCSeq: 1 OPTIONS\r\nContact: <sip:probe@{sys.argv[1]}:{lp}>\r\nContent-Length: 0\r\n\r\n")
s.sendto(msg.encode(), ("127.0.0.1", 15060))
try:
    print(s.recv(4096).decode().splitlines()[0])
except OSError:
    print("no answer")
PY
}
check "SIP from outside the allow-list refused (403)" "sip 127.0.0.1 | grep -q ' 403 '"
check "SIP from an allowed address passes the ACL" "! sip 127.0.0.2 | grep -q ' 403 \|no answer'"
exit $fail
