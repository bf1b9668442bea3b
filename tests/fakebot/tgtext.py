"""tgtext: Telegram's text rules, as the Bot API applies them.

Entity offsets and lengths count UTF-16 code units (an emoji outside the
Basic Multilingual Plane counts 2).  HTML parse_mode accepts a fixed set of
tags and answers anything else with "can't parse entities".
"""

import re


class ParseError(Exception):
    pass


def u16len(s):
    return len(s.encode("utf-16-le")) // 2


def _word(c):
    return c.isalnum() or c == "_"


def bot_commands(text):
    """bot_command entities of text, as Telegram computes them.

    A command is "/" and 1..64 of [A-Za-z0-9_], optionally followed by
    "@" and a bot username, not glued to a word, "/", "<" or ">" on
    either side.
    """
    ents = []
    i, n = 0, len(text)
    while i < n:
        if text[i] != "/" or (i > 0 and (_word(text[i - 1]) or
                                         text[i - 1] in "/<>")):
            i += 1
            continue
        j = i + 1
        while j < n and j - i <= 64 and text[j].isascii() and _word(text[j]):
            j += 1
        if j == i + 1:
            i += 1
            continue
        end = j
        if j < n and text[j] == "@":
            k = j + 1
            while k < n and text[k].isascii() and _word(text[k]):
                k += 1
            if 3 <= k - j - 1 <= 32:
                end = k
        if end < n and (_word(text[end]) or text[end] in "/<>@"):
            i = end
            continue
        ents.append({"offset": u16len(text[:i]),
                     "length": u16len(text[i:end]), "type": "bot_command"})
        i = end
    return ents


# ---------------------------------------------------------------- HTML

_SIMPLE = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic",
           "u": "underline", "ins": "underline", "s": "strikethrough",
           "strike": "strikethrough", "del": "strikethrough",
           "tg-spoiler": "spoiler", "code": "code", "pre": "pre",
           "blockquote": "blockquote", "a": "text_link", "span": "spoiler",
           "tg-emoji": "custom_emoji"}
_ENT = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTR = re.compile(r"""\s*([a-zA-Z][a-zA-Z0-9_-]*)"""
                   r"""\s*(?:=\s*("[^"]*"|'[^']*'|[^\s>"']+))?""")


def _boff(text, i):
    return len(text[:i].encode("utf-8"))


def _entity(text, i):
    """Decode an HTML entity at text[i] == "&": (char, next) or None."""
    m = re.match(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);",
                 text[i:])
    if not m:
        return None
    name = m.group(1)
    if name[0] == "#":
        cp = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
        if cp == 0 or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
            return None
        return chr(cp), i + m.end()
    if name in _ENT:
        return _ENT[name], i + m.end()
    return None			# unknown entities stay as plain text


def _unescape(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "&":
            e = _entity(v, i)
            if e:
                out.append(e[0])
                i = e[1]
                continue
        out.append(v[i])
        i += 1
    return "".join(out)


def _start_tag(text, i):
    """Parse "<name attrs>" at i: (name, attrs, next)."""
    m = re.match(r"<([a-zA-Z][a-zA-Z0-9-]*)", text[i:])
    if not m:
        raise ParseError('Unsupported start tag "" at byte offset %d'
                         % _boff(text, i))
    name = m.group(1).lower()
    if name not in _SIMPLE:
        raise ParseError('Unsupported start tag "%s" at byte offset %d'
                         % (name, _boff(text, i)))
    j = i + m.end()
    attrs = {}
    while True:
        while j < len(text) and text[j].isspace():
            j += 1
        if j >= len(text):
            raise ParseError("Unclosed start tag at byte offset %d"
                             % _boff(text, i))
        if text[j] == ">":
            return name, attrs, j + 1
        a = _ATTR.match(text, j)
        if not a or a.end() == j:
            raise ParseError("Empty attribute name in the tag \"%s\" at "
                             "byte offset %d" % (name, _boff(text, j)))
        v = a.group(2) or ""
        if v[:1] in ("'", '"'):
            v = v[1:-1]
        attrs[a.group(1).lower()] = _unescape(v)
        j = a.end()


def parse_html(text):
    """(plain text, entities) of an HTML-formatted message, or ParseError."""
    out = []			# pieces of the plain text
    pos = 0			# UTF-16 length of the plain text so far
    stack = []			# (tag, offset, attrs, byte offset)
    ents = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "&":
            e = _entity(text, i)
            if e:
                out.append(e[0])
                pos += u16len(e[0])
                i = e[1]
                continue
        if c != "<":
            out.append(c)
            pos += u16len(c)
            i += 1
            continue
        if text.startswith("</", i):
            m = re.match(r"</([a-zA-Z][a-zA-Z0-9-]*)?\s*>", text[i:])
            if not m:
                raise ParseError("Unclosed end tag at byte offset %d"
                                 % _boff(text, i))
            if not stack:
                raise ParseError("Unexpected end tag at byte offset %d"
                                 % _boff(text, i))
            name = (m.group(1) or "").lower()
            tag, off, attrs, _ = stack.pop()
            if name and name != tag:
                raise ParseError('Unmatched end tag at byte offset %d, '
                                 'expected "</%s>", found "</%s>"'
                                 % (_boff(text, i), tag, name))
            if pos > off:
                ents.append(_make_entity(tag, off, pos - off, attrs))
            i += m.end()
            continue
        name, attrs, j = _start_tag(text, i)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise ParseError('Tag "span" must have class "tg-spoiler" at '
                             'byte offset %d' % _boff(text, i))
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise ParseError('Custom emoji entity must contain a valid '
                             'custom emoji identifier')
        if stack and stack[-1][0] in ("code", "pre") and \
                not (stack[-1][0] == "pre" and name == "code"):
            raise ParseError('Tag "%s" is not allowed inside "%s" at byte '
                             'offset %d' % (name, stack[-1][0],
                                            _boff(text, i)))
        stack.append((name, pos, attrs, _boff(text, i)))
        i = j
    if stack:
        raise ParseError('Can\'t find end tag corresponding to start tag '
                         '"%s"' % stack[-1][0])
    ents.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), ents


def _make_entity(tag, off, length, attrs):
    e = {"offset": off, "length": length, "type": _SIMPLE[tag]}
    if tag == "a":
        e["url"] = attrs.get("href", "")
    elif tag == "tg-emoji":
        e["custom_emoji_id"] = attrs["emoji-id"]
    elif tag == "blockquote" and "expandable" in attrs:
        e["type"] = "expandable_blockquote"
    elif tag == "pre" and attrs.get("class", "").startswith("language-"):
        e["language"] = attrs["class"][9:]
    return e
