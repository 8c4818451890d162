#!/bin/sh
# make-der.sh - regenerates every <name>.der in this directory from its <name>.cnf with
# `openssl asn1parse -genconf`, i.e. independently of attfresh's encoder. The unit tests compare
# our encoder's output with these files byte for byte. Usage: sh make-der.sh
set -eu
cd "$(dirname "$0")"
for cnf in *.cnf; do
    name=${cnf%.cnf}
    openssl asn1parse -genconf "$cnf" -out "$name.der" -noout
done
