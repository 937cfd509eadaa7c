#!/usr/bin/env bash
# Runs the documented C commands exactly as written: every ```sh block that
# follows a line <!-- ci: c-commands --> in README.md or docs/*.md, in a
# fresh copy of the checkout (its tracked files), with PREFIX set to a
# temporary install prefix and no PKG_CONFIG_PATH, LD_LIBRARY_PATH or
# CMAKE_PREFIX_PATH of the caller's. A block fails on the first failing
# command (bash -e -o pipefail). At least one marked block must exist.
# Usage: bash tests/install/readme_c_commands.sh   (exits nonzero on failure)
# Environment: KEEP_TMP=1 keeps the temporary directory.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ctcc-readme-c.XXXXXX")"
cleanup() {
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# The marked blocks, one file each.
python3 - "$root" "$tmp/blocks" <<'PY'
import glob, os, re, sys

root, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
marker = re.compile(r"^\s*<!--\s*ci:\s*c-commands\s*-->\s*$")
blocks = {}  # commands -> where they are written
files = ["README.md"] + sorted(
    os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "docs", "*.md"))
)
for name in files:
    with open(os.path.join(root, name), encoding="utf-8") as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        if not marker.match(lines[i]):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j >= len(lines) or lines[j].strip() not in ("```sh", "```bash", "```shell"):
            sys.exit(f"{name}:{i + 1}: the c-commands marker is not followed by a sh block")
        end = j + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end >= len(lines):
            sys.exit(f"{name}:{j + 1}: unterminated block")
        body = "\n".join(lines[j + 1 : end]) + "\n"
        where = f"{name}:{j + 2}"
        if body in blocks:  # the same commands in two places run once
            blocks[body].append(where)
        else:
            blocks[body] = [where]
        i = end + 1
if not blocks:
    sys.exit("no <!-- ci: c-commands --> block in README.md or docs/*.md")
for count, (body, places) in enumerate(blocks.items(), 1):
    with open(os.path.join(out, f"{count:02d}.sh"), "w") as f:
        f.write(f"# {', '.join(places)}\n" + body)
PY

# A fresh copy of the checkout: tracked and new files, no build outputs.
mkdir "$tmp/ctcc"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$root" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            [ -f "$f" ] && printf '%s\0' "$f"
        done | xargs -0 cp --parents -t "$tmp/ctcc")
else
    (cd "$root" && tar --exclude='./build*' --exclude=./.venv --exclude='*.so' \
        --exclude='*.so.*' --exclude=__pycache__ -cf - .) | tar -xf - -C "$tmp/ctcc"
fi

passed=0
failed=0
for block in "$tmp"/blocks/*.sh; do
    where="$(head -n 1 "$block" | sed 's/^# //')"
    echo "== $where"
    sed '1d' "$block"
    if (cd "$tmp/ctcc" &&
        env -u PKG_CONFIG_PATH -u LD_LIBRARY_PATH -u CMAKE_PREFIX_PATH \
            PREFIX="$tmp/prefix" bash -euo pipefail "$block" >"$block.log" 2>&1); then
        echo "PASS: the commands of $where"
        passed=$((passed + 1))
    else
        tail -n 40 "$block.log"
        echo "FAIL: the commands of $where"
        failed=$((failed + 1))
    fi
done
# They installed into the prefix they were given.
if [ -f "$tmp/prefix/include/ctcc.h" ]; then
    echo "PASS: installed into \$PREFIX"
    passed=$((passed + 1))
else
    echo "FAIL: nothing installed into \$PREFIX"
    failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
