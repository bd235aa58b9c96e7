#!/usr/bin/env python3
"""A small client for vmplay's control socket (tests/guest/t_control.sh).

  control_client.py SOCKET REQUEST...   sends each request line, prints each reply line
  control_client.py SOCKET --protocol   the robustness battery: bad input from several
                                        clients, each check a PASS/FAIL line
  control_client.py SOCKET --wait-text REGEX SECONDS
                                        polls screen-text until a line matches; prints the
                                        screen and exits 0, or 1 when SECONDS pass first
  control_client.py SOCKET --type TEXT  types TEXT (US layout, printable ASCII and \n)
                                        through send-keys

The greeting is checked and not printed. Replies are one JSON object per line.
"""
import json
import socket
import sys
import time

TIMEOUT = 20


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    return s


class Client:
    def __init__(self, path, greet=True):
        self.sock = connect(path)
        self.buf = b""
        self.greeting = self.line() if greet else None

    def line(self):
        """The next line, or None at end of stream."""
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def send(self, raw):
        self.sock.sendall(raw if isinstance(raw, bytes) else raw.encode())

    def ask(self, request):
        self.send((request if isinstance(request, str) else json.dumps(request)) + "\n")
        reply = self.line()
        return json.loads(reply) if reply is not None else None

    def close(self):
        self.sock.close()


def error_class(reply):
    return reply.get("error", {}).get("class") if isinstance(reply, dict) else None


def check(name, ok, why):
    print(("PASS guest/control_%s" % name) if ok else ("FAIL guest/control_%s: %s" % (name, why)))
    sys.stdout.flush()


def alive(path):
    c = Client(path)
    r = c.ask({"execute": "status"})
    c.close()
    return isinstance(r, dict) and "return" in r


def protocol(path):
    c = Client(path)
    g = json.loads(c.greeting)
    check("greeting", "status" in g.get("vmplay", {}).get("commands", []) and
          g["vmplay"].get("version"), c.greeting)

    cases = [
        ("bad_json", '{"execute":', "GenericError"),
        ("not_json", "garbage", "GenericError"),
        ("not_object", "[1, 2]", "GenericError"),
        ("no_execute", '{"arguments":{}}', "GenericError"),
        ("unknown_member", '{"execute":"status","bogus":1}', "GenericError"),
        ("unknown_command", '{"execute":"no-such-command"}', "CommandNotFound"),
        ("unknown_argument", '{"execute":"status","arguments":{"x":1}}', "GenericError"),
        ("arguments_not_object", '{"execute":"status","arguments":[]}', "GenericError"),
        ("trailing_garbage", '{"execute":"status"} x', "GenericError"),
        ("two_objects_one_line", '{"execute":"status"}{"execute":"status"}', "GenericError"),
        ("bad_key", '{"execute":"send-keys","arguments":{"keys":"ctrl-alt-nokey"}}', "GenericError"),
        ("empty_key", '{"execute":"send-keys","arguments":{"keys":"ctrl--a"}}', "GenericError"),
        ("key_twice", '{"execute":"send-keys","arguments":{"keys":"a-a"}}', "GenericError"),
        ("keys_not_string", '{"execute":"send-keys","arguments":{"keys":5}}', "GenericError"),
        ("keys_missing", '{"execute":"send-keys"}', "GenericError"),
        ("too_many_keys", json.dumps({"execute": "send-keys", "arguments": {"keys": ["a"] * 41}}),
         "GenericError"),
        ("screenshot_no_file", '{"execute":"screenshot"}', "GenericError"),
        ("screenshot_bad_dir",
         '{"execute":"screenshot","arguments":{"file":"/nonexistent-dir/x.png"}}', "GenericError"),
        ("deep_nesting", "[" * 2000 + "]" * 2000, "GenericError"),
    ]
    for name, request, cls in cases:
        r = c.ask(request)
        check(name, error_class(r) == cls, "reply %r" % (r,))
    c.send(b'{"execute":"st\xffatus"}\n')
    r = json.loads(c.line())
    check("bad_utf8", error_class(r) == "GenericError", "reply %r" % (r,))
    c.send(b'{"execute":"\x00status"}\n')
    r = json.loads(c.line())
    check("nul_byte", error_class(r) == "GenericError", "reply %r" % (r,))

    r = c.ask('{"execute":"status","id":{"n":[1,"two"]}}')
    check("id_echoed", r.get("id") == {"n": [1, "two"]} and "return" in r, "reply %r" % (r,))

    c.send("\n   \r\n")  # empty lines ask nothing: the next reply is for the next request
    c.send('{"execute":')
    time.sleep(0.3)
    r = c.ask(' "status"}\r')
    check("partial_line", "return" in r and r["return"].get("cpu"), "reply %r" % (r,))

    c.send('{"execute":"status","id":1}\n{"execute":"status","id":2}\n')
    a, b = json.loads(c.line()), json.loads(c.line())
    check("two_lines_one_write", (a.get("id"), b.get("id")) == (1, 2), "%r %r" % (a, b))

    c.send("x" * 20000)
    time.sleep(0.2)
    c.send("y" * 20000 + "\n")
    r = json.loads(c.line())
    after = c.ask({"execute": "status", "id": "after"})
    check("oversized_line", error_class(r) == "GenericError" and "longer" in r["error"]["desc"]
          and after.get("id") == "after", "replies %r then %r" % (r, after))
    c.close()

    # A client that leaves in the middle of a command, or before reading anything.
    for partial in (b'{"execute":"scr', b'{"execute":"screen-text"}\n'):
        d = Client(path, greet=False)
        d.send(partial)
        d.close()
    check("disconnect_mid_command", alive(path), "the player stopped answering")

    # Several clients at once, answered each on its own connection.
    many = [Client(path) for _ in range(4)]
    for i, m in enumerate(reversed(many)):
        m.send(json.dumps({"execute": "status", "id": i}) + "\n")
    got = [json.loads(m.line()).get("id") for m in reversed(many)]
    check("several_clients", got == [0, 1, 2, 3], "ids %r" % (got,))
    for m in many:
        m.close()

    # 16 clients are served; the 17th is told so and closed.
    held = [Client(path) for _ in range(16)]
    extra = Client(path, greet=False)
    first = extra.line()
    rest = extra.line()
    check("too_many_clients", first is not None and error_class(json.loads(first)) == "GenericError"
          and rest is None, "got %r then %r" % (first, rest))
    extra.close()
    for h in held:
        h.close()
    time.sleep(0.1)
    check("clients_freed", alive(path), "no client was served after the 16 left")

    # A client that asks and never reads its replies is dropped; the others go on.
    greedy = Client(path)
    big = json.dumps({"execute": "status", "id": "z" * 4000}) + "\n"
    try:
        for _ in range(60):
            greedy.send(big * 10)  # 2.4 MB of replies in all, more than the player keeps
    except OSError:
        pass  # dropped while sending
    time.sleep(1)
    dropped = False
    try:
        while True:
            data = greedy.sock.recv(1 << 20)
            if not data:
                dropped = True
                break
    except OSError:
        dropped = True
    check("reader_that_never_reads", dropped and alive(path),
          "dropped=%s, alive afterwards=%s" % (dropped, alive(path)))


def screen_text(c):
    return c.ask({"execute": "screen-text"})["return"]["text"]


def wait_text(path, pattern, seconds):
    import re
    rx = re.compile(pattern, re.M)
    end = time.monotonic() + float(seconds)
    text = ""
    while True:
        try:
            c = Client(path)
            text = screen_text(c)
            c.close()
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if rx.search(text):
            print(text, end="")
            return 0
        if time.monotonic() >= end:
            print(text, end="")
            return 1
        time.sleep(0.5)


SHIFTED = {'!': '1', '@': '2', '#': '3', '$': '4', '%': '5', '^': '6', '&': '7', '*': '8',
           '(': '9', ')': '0', '_': 'minus', '+': 'equal', '{': 'bracket_left',
           '}': 'bracket_right', '|': 'backslash', ':': 'semicolon', '"': 'apostrophe',
           '~': 'grave', '<': 'comma', '>': 'dot', '?': 'slash'}
PLAIN = {' ': 'space', '-': 'minus', '=': 'equal', '[': 'bracket_left', ']': 'bracket_right',
         '\\': 'backslash', ';': 'semicolon', "'": 'apostrophe', '`': 'grave', ',': 'comma',
         '.': 'dot', '/': 'slash', '\n': 'enter'}


def chord(ch):
    if ch.islower() or ch.isdigit():
        return ch
    if ch.isupper():
        return "shift-" + ch.lower()
    if ch in SHIFTED:
        return "shift-" + SHIFTED[ch]
    if ch in PLAIN:
        return PLAIN[ch]
    sys.exit("control_client: cannot type %r" % ch)


def type_text(path, text):
    chords = [chord(ch) for ch in text]
    c = Client(path)
    # Eight chords at a time, half a second apart: a guest reading through the BIOS
    # (SeaBIOS keeps 15 keys) or a slow line editor loses keys typed faster.
    for i in range(0, len(chords), 8):
        reply = c.ask({"execute": "send-keys", "arguments": {"keys": chords[i:i + 8]}})
        if not reply or "return" not in reply:
            sys.exit("control_client: send-keys refused: %s" % reply)
        time.sleep(0.5)
    c.close()
    return 0


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path = sys.argv[1]
    if sys.argv[2] == "--protocol":
        protocol(path)
        return
    if sys.argv[2] == "--wait-text" and len(sys.argv) == 5:
        sys.exit(wait_text(path, sys.argv[3], sys.argv[4]))
    if sys.argv[2] == "--type" and len(sys.argv) == 4:
        sys.exit(type_text(path, sys.argv[3]))
    c = Client(path)
    for request in sys.argv[2:]:
        c.send(request + "\n")
        reply = c.line()
        if reply is None:
            sys.exit("control_client: the socket closed before the reply to " + request)
        print(reply)
    c.close()


if __name__ == "__main__":
    main()
