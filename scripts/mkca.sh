#!/usr/bin/env bash
# mkca.sh DIR [NAME] [--intermediate] - a throw-away CA for demos and tests, made with openssl:
# DIR/ca.key + DIR/ca.pem (EC P-256 root, 10 years), and with --intermediate also
# DIR/int.key + DIR/int.pem (an intermediate CA under it, for AK chains with a middle link).
# For demos only: the keys are plain files, mode 600. Use your real CA for anything else.
set -euo pipefail
dir=${1:?usage: mkca.sh DIR [NAME] [--intermediate]}
shift
name="attfresh demo AK CA"
inter=0
for a in "$@"; do
    case "$a" in
    --intermediate) inter=1 ;;
    *) name=$a ;;
    esac
done
mkdir -p "$dir"
umask 077
cat >"$dir/ca.cnf" <<CNF
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[int_ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" 2>/dev/null
openssl req -new -x509 -key "$dir/ca.key" -subj "/CN=$name" -days 3650 -sha256 \
    -config "$dir/ca.cnf" -extensions ca_ext -out "$dir/ca.pem"
if [ "$inter" = 1 ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/int.key" 2>/dev/null
    openssl req -new -key "$dir/int.key" -subj "/CN=$name intermediate" -out "$dir/int.csr"
    openssl x509 -req -in "$dir/int.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 1825 -sha256 -extfile "$dir/ca.cnf" -extensions int_ext \
        -out "$dir/int.pem" 2>/dev/null
    rm -f "$dir/int.csr"
fi
chmod 644 "$dir"/*.pem
echo "CA in $dir: ca.pem ca.key$([ "$inter" = 1 ] && echo ' int.pem int.key')"
