#!/usr/bin/env python3
"""Self-test of the reference OTR peers (stdlib only).

Starts two peers in temporary directories, forwards every `inject` / `out`
event of one into `recv` of the other, and checks AKE (started by either side),
fragmented messages both ways, SMP success / failure with and without a
question, `end` then a new session, and key rotation shown by `keys`.

    tests/otr-peers/shuttle.py [--libotr-peer PATH] [--python /usr/bin/python3]
                               [--pairs libotr-libotr,libotr-potr]

Exits 0 when every check passes, 1 with a message on stderr otherwise.
Every wait is bounded (select with a deadline).
"""

import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STEP_TIMEOUT = 30.0     # seconds for any single wait
SETTLE_QUIET = 0.3      # seconds without output = traffic has settled


class Failure(Exception):
    pass


def b64(data):
    if isinstance(data, str):
        data = data.encode('utf-8')
    return base64.b64encode(data).decode('ascii')


def unb64(s):
    return base64.b64decode(s)


class Peer:
    def __init__(self, kind, account, workdir, argv, stderr_path):
        self.kind = kind
        self.account = account
        self.argv = argv
        self.stderr_path = stderr_path
        self.err = open(stderr_path, 'wb')
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, cwd=workdir)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b''
        self.events = []     # every event, in order
        self.forwarded = 0   # index into events of the next one to route

    def __repr__(self):
        return '%s(%s)' % (self.kind, self.account)

    def send(self, line):
        if self.proc.poll() is not None:
            raise Failure('%r exited with %s (stderr: %s)' % (self, self.proc.returncode,
                                                            self.stderr_tail()))
        try:
            self.proc.stdin.write(line.encode('ascii') + b'\n')
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise Failure('%r closed its stdin (stderr: %s)' % (self, self.stderr_tail()))

    def stderr_tail(self):
        try:
            if not self.err.closed:
                self.err.flush()
            with open(self.stderr_path, 'rb') as f:
                return f.read()[-2000:].decode('utf-8', 'replace')
        except OSError:
            return '?'

    def read_available(self):
        """Reads whatever is on stdout now; returns number of new events."""
        n = 0
        while True:
            try:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buf += chunk
        while b'\n' in self.buf:
            line, self.buf = self.buf.split(b'\n', 1)
            try:
                ev = json.loads(line.decode('utf-8'))
            except ValueError:
                raise Failure('%r wrote a non-JSON line on stdout: %r' % (self, line[:200]))
            if not isinstance(ev, dict) or 'event' not in ev:
                raise Failure('%r wrote a JSON line without "event": %r' % (self, line[:200]))
            self.events.append(ev)
            n += 1
        return n

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send('quit')
            except Failure:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.err.close()


class Pair:
    def __init__(self, a, b, verbose=False):
        self.a, self.b = a, b
        self.by_account = {a.account: a, b.account: b}
        self.verbose = verbose
        self.wire = []  # (from, to, message bytes) for every routed message

    def other(self, p):
        return self.b if p is self.a else self.a

    def _route(self):
        """Forwards new inject/out events; returns True if anything happened."""
        moved = False
        for p in (self.a, self.b):
            while p.forwarded < len(p.events):
                ev = p.events[p.forwarded]
                p.forwarded += 1
                moved = True
                if self.verbose:
                    print('  %r -> %s' % (p, json.dumps(ev)[:160]), file=sys.stderr)
                if ev['event'] == 'error':
                    raise Failure('%r reported an error: %s' % (p, ev.get('message')))
                if ev['event'] in ('inject', 'out'):
                    dst = self.by_account.get(ev['to'])
                    if dst is None:
                        raise Failure('%r sent to unknown recipient %r' % (p, ev['to']))
                    self.wire.append((p.account, dst.account, unb64(ev['b64'])))
                    dst.send('recv %s %s' % (p.account, ev['b64']))
        return moved

    def _poll(self, timeout):
        fds = {}
        for p in (self.a, self.b):
            if p.proc.poll() is not None and not p.buf:
                p.read_available()
                raise Failure('%r exited with %s; stderr: %s'
                              % (p, p.proc.returncode, p.stderr_tail()))
            fds[p.proc.stdout.fileno()] = p
        r, _, _ = select.select(list(fds), [], [], max(0.0, timeout))
        n = 0
        for fd in r:
            n += fds[fd].read_available()
        return n

    def until(self, what, pred, timeout=STEP_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            self._route()
            if pred():
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure('timed out after %.0fs waiting for: %s\n  last events %r: %s\n'
                              '  last events %r: %s'
                              % (timeout, what, self.a, self.a.events[-6:], self.b,
                                 self.b.events[-6:]))
            self._poll(min(left, 0.2))

    def settle(self, timeout=STEP_TIMEOUT):
        """Routes until neither peer has said anything for SETTLE_QUIET s."""
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while True:
            if self._route():
                quiet_since = time.monotonic()
            now = time.monotonic()
            if now - quiet_since >= SETTLE_QUIET:
                return
            if now >= deadline:
                raise Failure('traffic did not settle within %.0fs' % timeout)
            if self._poll(min(SETTLE_QUIET, deadline - now)):
                quiet_since = time.monotonic()

    def ask(self, p, line, event, timeout=STEP_TIMEOUT):
        """Sends a command and waits for the first event of the given kind."""
        mark = len(p.events)
        p.send(line)
        found = []

        def pred():
            for ev in p.events[mark:]:
                if ev['event'] == event:
                    found.append(ev)
                    return True
            return False
        self.until('%r answers %r with %s' % (p, line, event), pred, timeout)
        return found[0]


def since(p, mark, event, **match):
    out = []
    for ev in p.events[mark:]:
        if ev['event'] != event:
            continue
        if all(ev.get(k) == v for k, v in match.items()):
            out.append(ev)
    return out


def check(cond, msg):
    if not cond:
        raise Failure(msg)


# --------------------------------------------------------------------------
# Scenario
# --------------------------------------------------------------------------


def expect_version(a, b):
    return 2 if 'potr' in (a.kind, b.kind) else 3


def ake(pair, initiator, note):
    a, b = initiator, pair.other(initiator)
    ma, mb = len(a.events), len(b.events)
    a.send('start %s' % b.account)
    pair.until('%s: both sides secure' % note,
               lambda: since(a, ma, 'secure') and since(b, mb, 'secure'))
    pair.settle()
    v = expect_version(a, b)
    for p, m in ((a, ma), (b, mb)):
        ev = since(p, m, 'secure')[-1]
        check(ev.get('version') == v, '%s: %r secure with version %r, expected %d'
              % (note, p, ev.get('version'), v))
        check(ev.get('peer') == pair.other(p).account, '%s: %r secure with wrong peer %r'
              % (note, p, ev.get('peer')))
        fp = ev.get('fingerprint') or ''
        check(len(fp.split()) == 5, '%s: bad fingerprint %r' % (note, fp))
    # fingerprints agree across
    fa = pair.ask(a, 'fingerprint', 'fingerprint')['fingerprint']
    fb = pair.ask(b, 'fingerprint', 'fingerprint')['fingerprint']
    check(since(b, mb, 'secure')[-1]['fingerprint'] == fa,
          '%s: %r sees fingerprint %r, %r has %r' % (note, b, since(b, mb, 'secure')[-1]
                                                     ['fingerprint'], a, fa))
    check(since(a, ma, 'secure')[-1]['fingerprint'] == fb,
          '%s: %r sees a different fingerprint for %r' % (note, a, b))
    for p in (a, b):
        k = pair.ask(p, 'keys %s' % pair.other(p).account, 'keys')
        check(k['msgstate'] == 'encrypted', '%s: %r keys msgstate %r' % (note, p, k))
        check(k['protocol_version'] == v, '%s: %r keys version %r' % (note, p, k))
    print('  ok: AKE started by %r, both secure (v%d)' % (a, v))


MESSAGES = [
    'hello',
    'quote " backslash \\ slash / tab \t newline \n end',
    'unicode: h\u00e9llo \u2603 \U0001F600',
    '<b>not html</b> & &amp;',
    'x' * 400,
    ''.join(chr(0x20 + (i * 7) % 95) for i in range(700)),
]


def messages_both_ways(pair, count=20):
    a, b = pair.a, pair.b
    keys0 = {p: pair.ask(p, 'keys %s' % pair.other(p).account, 'keys') for p in (a, b)}
    wire0 = len(pair.wire)
    for i in range(count):
        for src in (a, b):
            dst = pair.other(src)
            text = '%s #%d %s' % (src.account, i, MESSAGES[i % len(MESSAGES)])
            md = len(dst.events)
            src.send('send %s %s' % (dst.account, b64(text)))
            got = []

            def pred():
                for ev in since(dst, md, 'message'):
                    got.append(ev)
                    return True
                return False
            pair.until('message %d from %r reaches %r' % (i, src, dst), pred)
            ev = got[0]
            body = unb64(ev['b64']).decode('utf-8')
            check(body == text, 'message %d from %r arrived altered:\n  sent %r\n  got  %r'
                  % (i, src, text[:120], body[:120]))
            check(ev['encrypted'] is True, 'message %d from %r not marked encrypted' % (i, src))
            check(ev['from'] == src.account, 'message %d: wrong from %r' % (i, ev['from']))
    pair.settle()
    frags = [m for (_f, _t, m) in pair.wire[wire0:]
             if m.startswith(b'?OTR|') or m.startswith(b'?OTR,')]
    check(frags, 'no fragments were seen on the wire despite --max-fragment')
    too_long = [m for (_f, _t, m) in pair.wire[wire0:] if len(m) > 120]
    check(not too_long, '%d wire messages longer than --max-fragment 120 (e.g. %r)'
          % (len(too_long), too_long[:1]))
    for p in (a, b):
        k = pair.ask(p, 'keys %s' % pair.other(p).account, 'keys')
        k0 = keys0[p]
        check(k['our_keyid'] > k0['our_keyid'] and k['their_keyid'] > k0['their_keyid'],
              '%r: keys did not rotate: before %r after %r' % (p, k0, k))
    print('  ok: %d messages each way intact, %d fragments, keys rotated (%s)'
          % (count, len(frags), ', '.join('%r our %d->%d their %d->%d' % (
              p, keys0[p]['our_keyid'], k['our_keyid'], keys0[p]['their_keyid'],
              k['their_keyid']) for p, k in ((p, pair.ask(p, 'keys %s' % pair.other(p).account,
                                                          'keys')) for p in (a, b)))))


def smp(pair, initiator, secret, answer, question):
    a, b = initiator, pair.other(initiator)
    ok = secret == answer
    note = 'SMP by %r %s, %s' % (a, 'match' if ok else 'mismatch',
                                  'with question' if question else 'no question')
    ma, mb = len(a.events), len(b.events)
    line = 'smp %s %s' % (b.account, b64(secret))
    if question is not None:
        line += ' ' + b64(question)
    a.send(line)
    pair.until('%s: responder asked' % note, lambda: since(b, mb, 'smp', result='asked'))
    asked = since(b, mb, 'smp', result='asked')[0]
    if question is None:
        check(asked.get('question_b64') is None, '%s: unexpected question %r' % (note, asked))
    else:
        check(asked.get('question_b64') is not None and
              unb64(asked['question_b64']).decode('utf-8') == question,
              '%s: question arrived as %r' % (note, asked.get('question_b64')))
    b.send('smp-answer %s %s' % (a.account, b64(answer)))
    final = ('success',) if ok else ('failure',)
    # potr quirk: a potr *responder* that detects a mismatch sends an SMP abort
    # TLV instead of SMP message 4, so the initiator can only report "aborted".
    init_final = final if (ok or b.kind != 'potr') else ('failure', 'aborted')

    def done():
        return ([e for e in since(a, ma, 'smp') if e['result'] in init_final] and
                [e for e in since(b, mb, 'smp') if e['result'] in final])
    pair.until('%s: result on both sides' % note, done)
    pair.settle()
    for p, m, want in ((a, ma, init_final), (b, mb, final)):
        res = [e['result'] for e in since(p, m, 'smp')]
        bad = [r for r in res if r in ('cheated', 'error') or
               (r in ('success', 'failure') and r not in want)]
        check(not bad, '%s: %r reported %r' % (note, p, res))
    if ok and question is None:
        pf = pair.ask(a, 'peer-fingerprint %s' % b.account, 'peer_fingerprint')
        check(pf['trusted'], '%s: %r does not trust %r after SMP success' % (note, a, b))
    ra = [e['result'] for e in since(a, ma, 'smp')]
    rb = [e['result'] for e in since(b, mb, 'smp')]
    print('  ok: %s -> initiator %s, responder %s' % (note, ra, rb))


def end_session(pair, ender):
    a, b = ender, pair.other(ender)
    ma, mb = len(a.events), len(b.events)
    a.send('end %s' % b.account)
    pair.until('%r ended: %r sees finished' % (a, b), lambda: since(b, mb, 'finished'))
    pair.settle()
    for p, want in ((a, 'plaintext'), (b, 'finished')):
        k = pair.ask(p, 'keys %s' % pair.other(p).account, 'keys')
        check(k['msgstate'] == want, '%r after end: msgstate %r, expected %s'
              % (p, k['msgstate'], want))
    # A message sent now by the finished side must be refused, not leaked.
    mm = len(b.events)
    b.send('send %s %s' % (a.account, b64('must not leak')))
    pair.until('%r refuses to send in FINISHED' % b,
               lambda: since(b, mm, 'msg_event', kind='OTRL_MSGEVENT_CONNECTION_ENDED'))
    pair.settle()
    check(not since(b, mm, 'out') and not since(b, mm, 'inject'),
          '%r sent something while FINISHED: %r' % (b, b.events[mm:]))
    b.send('end %s' % a.account)
    pair.settle()
    k = pair.ask(b, 'keys %s' % a.account, 'keys')
    check(k['msgstate'] == 'plaintext', '%r after its own end: %r' % (b, k))
    print('  ok: end by %r: %r finished, refused to send, then plaintext' % (a, b))


def whitespace_start(pair, src):
    """A plaintext sent with the opportunistic policy carries the whitespace
    tag; the receiver shows the text without the tag and starts the AKE."""
    dst = pair.other(src)
    ms, md = len(src.events), len(dst.events)
    text = 'plain hello from %s' % src.account
    src.send('send %s %s' % (dst.account, b64(text)))
    pair.until('tagged plaintext starts the AKE: both secure',
               lambda: since(src, ms, 'secure') and since(dst, md, 'secure'))
    pair.settle()
    outs = [unb64(e['b64']) for e in since(src, ms, 'out')]
    check(outs and outs[0].startswith(text.encode()) and b' \t  \t\t\t\t \t \t \t  ' in outs[0],
          'first plaintext did not carry the whitespace tag: %r' % outs[:1])
    got = since(dst, md, 'message')
    check(got and unb64(got[0]['b64']).decode('utf-8') == text and got[0]['encrypted'] is False,
          'tagged plaintext not shown as sent (tag stripped, encrypted false): %r' % got[:1])
    print('  ok: whitespace-tagged plaintext from %r shown untagged, AKE started, both secure'
          % src)


def one_message(pair, src, text):
    dst = pair.other(src)
    md = len(dst.events)
    src.send('send %s %s' % (dst.account, b64(text)))
    pair.until('message after restart', lambda: since(dst, md, 'message'))
    ev = since(dst, md, 'message')[0]
    check(unb64(ev['b64']).decode('utf-8') == text and ev['encrypted'],
          'message after restart altered or not encrypted: %r' % ev)


def run_pair(kinds, libotr_bin, python, workroot, verbose):
    names = {0: 'alice@example.org', 1: 'bob@example.net'}
    peers = []
    try:
        for i, kind in enumerate(kinds):
            d = os.path.join(workroot, '%s-%d' % (kind, i))
            os.makedirs(d)
            if kind == 'libotr':
                argv = [libotr_bin]
            else:
                argv = [python, os.path.join(HERE, 'potr_peer.py')]
            argv += ['--account', names[i], '--protocol', 'xmpp', '--dir', d,
                     '--max-fragment', '120']
            peers.append(Peer(kind, names[i], d, argv, os.path.join(workroot,
                                                                     '%s-%d.stderr' % (kind, i))))
        pair = Pair(peers[0], peers[1], verbose)
        for p in peers:
            pair.until('%r ready' % p, lambda p=p: any(e['event'] == 'ready' for e in p.events),
                       timeout=120)
        a, b = peers
        whitespace_start(pair, a)
        end_session(pair, a)
        ake(pair, a, 'first AKE')
        messages_both_ways(pair, 20)
        smp(pair, a, 'correct horse', 'correct horse', None)
        smp(pair, b, 'battery staple', 'battery staple', 'Where did we meet?')
        smp(pair, a, 'right secret', 'wrong secret', None)
        smp(pair, b, 'right answer', 'wrong answer', 'Favourite colour?')
        end_session(pair, a)
        ake(pair, b, 'AKE after end (other side starts)')
        one_message(pair, a, 'after restart from %s' % a.account)
        one_message(pair, b, 'after restart from %s' % b.account)
        print('  ok: messages flow in the new session')
        # And once more the other way round, to restart a session ended by b.
        end_session(pair, b)
        ake(pair, a, 'AKE after end by the other side')
        one_message(pair, b, 'third session')
    finally:
        for p in peers:
            p.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--libotr-peer', help='libotr_peer binary (default: build it with build.sh)')
    ap.add_argument('--python', default='/usr/bin/python3',
                    help='interpreter with python3-potr (default /usr/bin/python3)')
    ap.add_argument('--pairs', default='libotr-libotr,libotr-potr,potr-libotr',
                    help='comma-separated pairs among libotr-libotr, libotr-potr, '
                         'potr-libotr, potr-potr')
    ap.add_argument('--keep', action='store_true', help='keep the temporary directory')
    ap.add_argument('-v', '--verbose', action='store_true')
    args = ap.parse_args()

    workroot = tempfile.mkdtemp(prefix='otr-shuttle.')
    rc = 0
    try:
        libotr_bin = args.libotr_peer
        if not libotr_bin:
            bdir = os.path.join(workroot, 'bin')
            r = subprocess.run([os.path.join(HERE, 'build.sh'), bdir], timeout=120)
            if r.returncode != 0:
                raise Failure('build.sh failed (%d)' % r.returncode)
            libotr_bin = os.path.join(bdir, 'libotr_peer')
        for spec in args.pairs.split(','):
            kinds = spec.strip().split('-')
            if len(kinds) != 2 or any(k not in ('libotr', 'potr') for k in kinds):
                raise Failure('bad pair %r' % spec)
            print('pair %s <-> %s' % tuple(kinds))
            t0 = time.monotonic()
            run_pair(kinds, libotr_bin, args.python,
                     os.path.join(workroot, spec.strip()), args.verbose)
            print('  pair passed in %.1fs' % (time.monotonic() - t0))
        print('shuttle: all checks passed')
    except Failure as e:
        print('shuttle: FAILED: %s' % e, file=sys.stderr)
        if not args.keep:
            print('shuttle: (re-run with --keep to inspect peer stderr in the work dir)',
                  file=sys.stderr)
        rc = 1
    except subprocess.TimeoutExpired as e:
        print('shuttle: FAILED: timeout: %s' % e, file=sys.stderr)
        rc = 1
    finally:
        if args.keep:
            print('shuttle: work dir kept: %s' % workroot, file=sys.stderr)
        else:
            shutil.rmtree(workroot, ignore_errors=True)
    return rc


if __name__ == '__main__':
    sys.exit(main())
