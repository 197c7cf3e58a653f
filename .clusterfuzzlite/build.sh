#!/bin/bash -eu
# Builds every cargo-fuzz target of litmus the way OSS-Fuzz and
# ClusterFuzzLite expect, into $OUT:
#   TARGET                    the libFuzzer binary (cargo fuzz build -O,
#                             debug assertions and overflow checks on)
#   TARGET_seed_corpus.zip    fuzz/corpus/TARGET plus fuzz/regressions/TARGET
#                             (every saved crash stays a seed)
#   TARGET.dict               fuzz/config.dict (keys and values of the spec)
#   TARGET.options            libFuzzer options: dict, timeout, memory
# Needs $SRC (the checkout at $SRC/litmus), $OUT and $WORK, a nightly cargo
# with cargo-fuzz (the builder image's default; locally
# RUSTUP_TOOLCHAIN=nightly), libseccomp-dev and zip.
# `cargo xtask fuzz smoke` runs this script with temporary $SRC, $OUT and
# $WORK and checks what it leaves in $OUT.
cd "$SRC/litmus"

cargo fuzz build -O --debug-assertions

release=fuzz/target/x86_64-unknown-linux-gnu/release
for target in $(cargo fuzz list); do
  cp "$release/$target" "$OUT/"

  seeds="$WORK/seeds/$target"
  rm -rf "$seeds"
  mkdir -p "$seeds"
  for dir in "fuzz/corpus/$target" "fuzz/regressions/$target"; do
    if [ -d "$dir" ]; then
      cp "$dir"/* "$seeds/"
    fi
  done
  rm -f "$OUT/${target}_seed_corpus.zip"
  (cd "$seeds" && zip -q -j "$OUT/${target}_seed_corpus.zip" ./*)

  cp fuzz/config.dict "$OUT/$target.dict"
  cat > "$OUT/$target.options" <<OPTIONS
[libfuzzer]
dict = $target.dict
timeout = 10
rss_limit_mb = 2560
OPTIONS
done
