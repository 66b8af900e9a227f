"""The regular expressions of AWS's service models, matched as AWS matches them.

botocore's ``pattern`` constraints are written for ``java.util.regex.Pattern`` (AWS's services
validate requests in Java): ``\\p{L}`` and the other Unicode categories, ``\\p{Alnum}``,
``\\p{ASCII}`` and ``\\p{Print}`` (POSIX, US-ASCII only), ``\\z``, ``\\w \\d \\s \\b`` with their
US-ASCII meaning, ``.`` that stops at any line terminator, surrogate pairs written as two
``\\uXXXX`` escapes, and quantified anchors such as ``${1,128}``. A value satisfies the pattern
when the whole value matches it (``Matcher.matches``): SageMaker refuses
``'sagemaker-deep-demand-forecast/1.2.0-nb-lifecycle-config'`` against
``^[a-zA-Z0-9](-*[a-zA-Z0-9])*`` though a prefix matches
(github.com/awslabs/sagemaker-deep-demand-forecast/issues/41).

Sources for the Java semantics: the ``java.util.regex.Pattern`` documentation ("Predefined
character classes", "POSIX character classes (US-ASCII only)", "Line terminators").
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

import regex  # type: ignore[import-untyped]  # no stubs; used through Any

#: Java's predefined classes, US-ASCII only: (members for use inside ``[...]``, negated).
_SPACE: Final = r"\t\n\x0b\f\r "
_CLASSES: Final = {
    "d": ("0-9", False),
    "D": ("0-9", True),
    "w": ("0-9A-Za-z_", False),
    "W": ("0-9A-Za-z_", True),
    "s": (_SPACE, False),
    "S": (_SPACE, True),
}
#: The complement of each class, as members for use inside ``[...]``.
_COMPLEMENTS: Final = {
    "0-9": r"\x00-/:-\U0010ffff",
    "0-9A-Za-z_": r"\x00-/:-@\[-\^`{-\U0010ffff",
    _SPACE: r"\x00-\x08\x0e-\x1f!-\U0010ffff",
}
#: Java's POSIX classes, US-ASCII only, as members for use inside ``[...]``.
_POSIX: Final = {"p{Alnum}": "0-9A-Za-z", "p{ASCII}": r"\x00-\x7f", "p{Print}": r"\x20-\x7e"}
#: ``.`` without DOTALL: anything but Java's line terminators.
_DOT: Final = r"[^\n\r\u0085\u2028\u2029]"


def _unicode_escape(pattern: str, i: int) -> tuple[str, int]:
    """``\\uXXXX`` at ``i`` (after the backslash), joining a surrogate pair into one code point."""
    high = int(pattern[i + 1 : i + 5], 16)
    end = i + 5
    if 0xD800 <= high <= 0xDBFF and pattern[end : end + 2] == "\\u":
        low = int(pattern[end + 2 : end + 6], 16)
        if 0xDC00 <= low <= 0xDFFF:
            code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            return f"\\U{code:08x}", end + 6
    if 0xD800 <= high <= 0xDFFF:  # a lone surrogate: Java's range ends there; no str holds it
        return f"\\x{{{high:x}}}", end
    return f"\\u{high:04x}", end


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape whose letter is at ``i``; return it and the next index."""
    letter = pattern[i]
    if letter in _CLASSES:
        members, negated = _CLASSES[letter]
        if in_class:
            return (_COMPLEMENTS[members] if negated else members), i + 1
        return f"[{'^' if negated else ''}{members}]", i + 1
    if letter == "u":
        return _unicode_escape(pattern, i)
    for name, members in _POSIX.items():
        if pattern.startswith(name, i):
            return (members if in_class else f"[{members}]"), i + len(name)
    if letter == "z":  # the very end of the input (Python's \Z)
        return r"\Z", i + 1
    return "\\" + letter, i + 1


def translate(pattern: str) -> str:
    """The ``regex``-module pattern (version 0) that matches what Java's ``pattern`` matches."""
    out: list[str] = []
    i = 0
    depth = 0  # 1 inside [...]
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            text, i = _escape(pattern, i + 1, depth > 0)
            out.append(text)
            continue
        if char == "[" and depth:  # no pattern nests classes; a [ inside one is literal here
            out.append(r"\[")
        elif char == "[":
            depth += 1
            out.append(char)
            if pattern[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1 : i + 2] == "]":  # a leading ] is a literal
                out.append(r"\]")
                i += 1
        elif char == "]" and depth:
            depth -= 1
            out.append(char)
        elif char == "." and not depth:
            out.append(_DOT)
        else:
            out.append(char)
        i += 1
    return "".join(out)


@cache
def compiled(pattern: str) -> Any:
    """The compiled translation of a Java pattern, compiled once."""
    return regex.compile(translate(pattern), regex.VERSION0)


def matches(pattern: str, value: str) -> bool:
    """Java's ``Pattern.matches(pattern, value)``: the whole value matches."""
    return compiled(pattern).fullmatch(value) is not None
