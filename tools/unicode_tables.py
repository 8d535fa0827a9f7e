#!/usr/bin/env python3
"""Generate include/temper/text/unicode_tables.hpp from the Unicode Character Database.

    python3 tools/unicode_tables.py [--ucd /usr/share/unicode] [--out include/temper/text/unicode_tables.hpp]

Needs UnicodeData.txt, PropList.txt, SpecialCasing.txt and DerivedAge.txt (Debian: `unicode-data`).

The tables reproduce what HuggingFace tokenizers (Rust core, 0.23.x) actually uses, which is not
one Unicode version:
  * general categories (BertNormalizer's is_control / strip-accents' Mn test, BertPreTokenizer's
    punctuation test) come from the `unicode_categories` crate, frozen at Unicode 8.0. We take the
    categories of code points assigned by 8.0 (DerivedAge.txt) and undo the few category changes
    made since 8.0 (CATEGORY_IN_8_0 below). Everything newer is Cn there: kept, not punctuation.
  * NFD comes from `unicode-normalization-alignments`, frozen at Unicode 9.0: decompositions and
    canonical combining classes of code points assigned by 9.0 only.
  * lowercase is Rust's char::to_lowercase (std, recent Unicode): simple mappings from
    UnicodeData.txt plus the unconditional multi-char ones from SpecialCasing.txt (U+0130 -> i + U+0307).
    Letters assigned after the UCD used here (15.0) are not lowercased (see docs/tokenizer.md).
  * whitespace is Rust's char::is_whitespace, i.e. the White_Space property (PropList.txt).
tests/test_tokenizer_unicode.cpp checks every code point against HF (fixture from tools/tokenizer_fixtures.py).
"""
import argparse
import os

# Category changes after Unicode 8.0 that HF's frozen tables do not know (verified code point by
# code point against tokenizers 0.23.2): code point -> its category in Unicode 8.0.
CATEGORY_IN_8_0 = {
    0x166D: "Po",   # CANADIAN SYLLABICS CHI SIGN, Po -> So in 12.0
    0x1734: "Mn",   # HANUNOO SIGN PAMUDPOD, Mn -> Mc in 14.0
    0x1885: "Lo",   # MONGOLIAN LETTER ALI GALI BALUDA, Lo -> Mn in 9.0
    0x1886: "Lo",   # MONGOLIAN LETTER ALI GALI THREE BALUDA, Lo -> Mn in 9.0
    0xA9BD: "Mc",   # JAVANESE CONSONANT SIGN KERET, Mc -> Mn in 12.0
    0x111C9: "Po",  # SHARADA SANDHI MARK, Po -> Mn in 10.0
}
CATEGORY_VERSION = (8, 0)
NORMALIZATION_VERSION = (9, 0)

# Flag bits, kept in sync with unicode.hpp.
OTHER, MARK_NONSPACING, PUNCTUATION, WHITESPACE = 1, 2, 4, 8


def ranges(path):
    """Yield (first, last, fields) for every data line of a UCD 'range ; value' file."""
    for line in open(path, encoding="utf-8"):
        line = line.split("#")[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(";")]
        a, _, b = fields[0].partition("..")
        yield int(a, 16), int(b or a, 16), fields[1:]


def load(ucd):
    cat, ccc, dec, lower = {}, {}, {}, {}
    first = None
    for line in open(os.path.join(ucd, "UnicodeData.txt"), encoding="utf-8"):
        f = line.rstrip("\n").split(";")
        cp = int(f[0], 16)
        if f[1].endswith(", First>"):
            first = cp
            continue
        if f[1].endswith(", Last>"):
            for c in range(first, cp + 1):
                cat[c] = f[2]
            continue
        cat[cp] = f[2]
        if f[3] != "0":
            ccc[cp] = int(f[3])
        if f[5] and not f[5].startswith("<"):  # canonical decompositions only
            dec[cp] = [int(x, 16) for x in f[5].split()]
        if f[13]:
            lower[cp] = [int(f[13], 16)]
    for a, _, f in ranges(os.path.join(ucd, "SpecialCasing.txt")):
        if len(f) > 3 and f[3]:  # conditional (Final_Sigma, language-specific): Rust ignores them
            continue
        lower[a] = [int(x, 16) for x in f[0].split()]
    lower = {c: m for c, m in lower.items() if m != [c]}
    white = set()
    for a, b, f in ranges(os.path.join(ucd, "PropList.txt")):
        if f[0] == "White_Space":
            white.update(range(a, b + 1))
    age = {}
    for a, b, f in ranges(os.path.join(ucd, "DerivedAge.txt")):
        v = tuple(int(x) for x in f[0].split("."))
        for c in range(a, b + 1):
            age[c] = v
    version = open(os.path.join(ucd, "DerivedAge.txt"), encoding="utf-8").readline()
    version = version.split("-")[1].rsplit(".", 1)[0] if "-" in version else "unknown"
    return cat, ccc, dec, lower, white, age, version


def is_ascii_punct(c):
    return 33 <= c <= 47 or 58 <= c <= 64 or 91 <= c <= 96 or 123 <= c <= 126


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ucd", default="/usr/share/unicode")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "include", "temper", "text", "unicode_tables.hpp"))
    args = ap.parse_args()
    cat, ccc, dec, lower, white, age, version = load(args.ucd)

    def cat8(c):
        if c in CATEGORY_IN_8_0:
            return CATEGORY_IN_8_0[c]
        return cat.get(c, "Cn") if age.get(c, (99,)) <= CATEGORY_VERSION else "Cn"

    def flags(c):
        k = cat8(c)
        f = 0
        if k in ("Cc", "Cf", "Co", "Cs"):
            f |= OTHER
        if k == "Mn":
            f |= MARK_NONSPACING
        if k.startswith("P") or is_ascii_punct(c):
            f |= PUNCTUATION
        if c in white:
            f |= WHITESPACE
        return f

    # Property runs: (first << 8) | flags, each run ends where the next begins.
    prop_runs, prev = [], None
    for c in range(0x110000):
        f = flags(c)
        if f != prev:
            prop_runs.append((c << 8) | f)
            prev = f

    # Canonical combining classes as of Unicode 9.0, as runs (first << 8) | ccc.
    def ccc9(c):
        return ccc.get(c, 0) if age.get(c, (99,)) <= NORMALIZATION_VERSION else 0
    ccc_runs, prev = [], None
    for c in range(0x110000):
        k = ccc9(c)
        if k != prev:
            ccc_runs.append((c << 8) | k)
            prev = k

    # Full (recursive) canonical decompositions as of Unicode 9.0; Hangul is algorithmic in unicode.hpp.
    def full(c):
        if c in dec and age.get(c, (99,)) <= NORMALIZATION_VERSION:
            return [x for d in dec[c] for x in full(d)]
        return [c]
    decomp_index, decomp_data = [], []
    for c in sorted(dec):
        if age.get(c, (99,)) > NORMALIZATION_VERSION:
            continue
        d = full(c)
        assert len(d) < 8 and len(decomp_data) < (1 << 16)
        decomp_index.append((c, len(decomp_data), len(d)))
        decomp_data += d

    # Simple lowercase as runs {first, count, delta, step}: first + i*step maps to itself + delta.
    single = sorted((c, m[0]) for c, m in lower.items() if len(m) == 1)
    lower_runs = []
    for c, m in single:
        if lower_runs:
            f, n, d, s = lower_runs[-1]
            if m - c == d and (n == 1 and c - f in (1, 2) or n > 1 and c == f + n * s):
                lower_runs[-1] = (f, n + 1, d, c - f if n == 1 else s)
                continue
        lower_runs.append((c, 1, m - c, 1))
    multi = sorted((c, m) for c, m in lower.items() if len(m) > 1)
    assert all(len(m) <= 3 for _, m in multi)

    def block(values, per_line, fmt):
        items = [fmt(v) for v in values]
        return "\n".join("    " + ", ".join(items[i:i + per_line]) + "," for i in range(0, len(items), per_line))

    latin1 = [flags(c) for c in range(256)]
    out = f"""// GENERATED by tools/unicode_tables.py from the Unicode Character Database {version} — do not edit.
// Modified (derived and reduced) Unicode data, © Unicode, Inc., under the Unicode license: see
// THIRD_PARTY_NOTICES.md. Reproduces the tables HuggingFace tokenizers uses (see the generator's
// docstring): general categories as of Unicode 8.0, NFD as of Unicode 9.0, Rust's lowercase, White_Space.
#pragma once

#include <cstdint>

namespace temper::text::tables {{

inline constexpr const char* kUcdVersion = "{version}";

// Flags: 1 = other (Cc Cf Co Cs), 2 = Mn, 4 = punctuation (P* or ASCII punctuation), 8 = White_Space.
inline constexpr uint8_t kLatin1Flags[256] = {{
{block(latin1, 32, str)}
}};

// (first code point << 8) | flags; a run lasts until the next entry's first code point.
inline constexpr uint32_t kPropRuns[{len(prop_runs)}] = {{
{block(prop_runs, 8, lambda v: f"0x{v:08X}")}
}};

// (first code point << 8) | canonical combining class, as runs.
inline constexpr uint32_t kCccRuns[{len(ccc_runs)}] = {{
{block(ccc_runs, 8, lambda v: f"0x{v:08X}")}
}};

// Full canonical decomposition of code point `cp`: kDecompData[offset .. offset + len).
struct Decomposition {{
    uint32_t cp;
    uint16_t offset;
    uint8_t len;
}};
inline constexpr Decomposition kDecompositions[{len(decomp_index)}] = {{
{block(decomp_index, 6, lambda v: f"{{0x{v[0]:X}, {v[1]}, {v[2]}}}")}
}};
inline constexpr char32_t kDecompData[{len(decomp_data)}] = {{
{block(decomp_data, 10, lambda v: f"0x{v:X}")}
}};

// Simple lowercase: code points first + i*step (i < count) map to themselves + delta.
struct LowerRun {{
    uint32_t first;
    uint16_t count;
    uint8_t step;
    int32_t delta;
}};
inline constexpr LowerRun kLowerRuns[{len(lower_runs)}] = {{
{block(lower_runs, 4, lambda v: f"{{0x{v[0]:X}, {v[1]}, {v[3]}, {v[2]}}}")}
}};

// Unconditional multi-character lowercase mappings (SpecialCasing.txt).
struct LowerMulti {{
    uint32_t cp;
    char32_t out[3];
}};
inline constexpr LowerMulti kLowerMulti[{len(multi)}] = {{
{block(multi, 2, lambda v: "{0x%X, {%s}}" % (v[0], ", ".join("0x%X" % x for x in v[1])))}
}};

}}  // namespace temper::text::tables
"""
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(out)
    print(f"wrote {args.out}: {len(out)} bytes, {len(prop_runs)} property runs, {len(ccc_runs)} ccc runs, "
          f"{len(decomp_index)} decompositions, {len(lower_runs)} lowercase runs, {len(multi)} multi-char lowercase")


if __name__ == "__main__":
    main()
