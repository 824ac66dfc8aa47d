#!/usr/bin/python3
"""potr_peer: a reference OTR (v2) peer built on python3-potr, driven line by line.

Same line protocol as libotr_peer (see README.md in this directory): commands
on stdin, one JSON object per line on stdout, diagnostics on stderr.

Run it with Debian's interpreter (/usr/bin/python3), which is the one that has
python3-potr and python3-pycryptodome.

potr does the protocol. The only thing replaced here is potr's crypto glue
(potr/compatcrypto/pycrypto.py), which Debian's python3-potr 1.0.2-5 patched to
import Cryptodome but left calling the old PyCrypto API: DSA key generation
(`privkey.key.y`), DSA sign/verify (`key.sign(M, K)`) and AES-CTR with a
callable counter all raise with pycryptodome. The shim below gives the same
primitives with the same semantics (DSA over the full integer of the 32-byte
MAC, as PyCrypto did; AES-CTR whose 16-byte counter block starts at
prefix(8 bytes) || 0(8 bytes)).
"""

import argparse
import base64
import json
import logging
import os
import sys
import time
import traceback

import potr
import potr.compatcrypto
import potr.compatcrypto.common as pcommon
import potr.compatcrypto.pycrypto as ppycrypto
import potr.context as pctx
import potr.crypt as pcrypt
import potr.proto as pproto
from potr.utils import bytes_to_long, long_to_bytes

from Cryptodome.Cipher import AES
from Cryptodome.PublicKey import DSA
import Cryptodome.Random.random as crandom

# --------------------------------------------------------------------------
# Compatibility shim for Debian's potr + pycryptodome (see module docstring)
# --------------------------------------------------------------------------


def _aesctr(key, counter=0):
    if isinstance(counter, (int,)):
        counter = ppycrypto.Counter(counter)
    if not isinstance(counter, ppycrypto.Counter):
        raise TypeError('counter must be a potr Counter')
    initial = long_to_bytes(counter.prefix, 8) + long_to_bytes(counter.val, 8)
    return AES.new(key, AES.MODE_CTR, nonce=b'', initial_value=initial)


@pcommon.registerkeytype
class DSAKey(ppycrypto.DSAKey):
    """potr's DSAKey with sign/verify/generate on pycryptodome's primitives."""
    keyType = 0x0000

    def sign(self, data):
        k = crandom.randrange(2, self.priv.q)
        r, s = self.priv._sign(bytes_to_long(data), k)
        return long_to_bytes(int(r), 20) + long_to_bytes(int(s), 20)

    def verify(self, data, sig):
        if len(sig) != 40:
            return False
        r, s = bytes_to_long(sig[:20]), bytes_to_long(sig[20:])
        return bool(self.pub._verify(bytes_to_long(data), (r, s)))

    @classmethod
    def generate(cls):
        k = DSA.generate(1024)
        return cls((int(k.y), int(k.g), int(k.p), int(k.q), int(k.x)), private=True)


ppycrypto.AESCTR = _aesctr
potr.compatcrypto.AESCTR = _aesctr
pcrypt.AESCTR = _aesctr          # crypt.py imported the name directly
ppycrypto.DSAKey = DSAKey
potr.compatcrypto.DSAKey = DSAKey

# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------

QUIET = [False]


def emit(event, **fields):
    if QUIET[0]:
        return
    obj = {'event': event}
    obj.update(fields)
    sys.stdout.write(json.dumps(obj, separators=(',', ':')) + '\n')
    sys.stdout.flush()


def b64(data):
    if isinstance(data, str):
        data = data.encode('utf-8')
    return base64.b64encode(data).decode('ascii')


def unb64(s):
    return base64.b64decode(s.encode('ascii'), validate=True)


def log(msg):
    sys.stderr.write('potr_peer: %s\n' % msg)
    sys.stderr.flush()


POLICIES = {
    # potr policy keys: ALLOW_V1, ALLOW_V2, REQUIRE_ENCRYPTION, SEND_TAG,
    # WHITESPACE_START_AKE, ERROR_START_AKE (potr reads the first four; a
    # whitespace tag always starts the AKE, an error never does).
    'default': {'ALLOW_V2', 'SEND_TAG', 'WHITESPACE_START_AKE', 'ERROR_START_AKE'},
    'v2only': {'ALLOW_V2', 'SEND_TAG', 'WHITESPACE_START_AKE', 'ERROR_START_AKE'},
    'always': {'ALLOW_V2', 'REQUIRE_ENCRYPTION', 'WHITESPACE_START_AKE', 'ERROR_START_AKE'},
    'manual': {'ALLOW_V2'},
}

STATE_NAMES = {
    pctx.STATE_PLAINTEXT: 'plaintext',
    pctx.STATE_ENCRYPTED: 'encrypted',
    pctx.STATE_FINISHED: 'finished',
}

# --------------------------------------------------------------------------
# potr subclasses
# --------------------------------------------------------------------------


class PeerContext(pctx.Context):
    def __init__(self, account, peername):
        super().__init__(account, peername)

    def getPolicy(self, key):
        return key in self.user.policyset

    def inject(self, msg, appdata=None):
        if isinstance(msg, str):
            msg = msg.encode('utf-8')
        if self.user.sink is not None:
            self.user.sink(self.peer, bytes(msg))
            return
        emit('inject', to=self.peer, b64=b64(bytes(msg)))

    def setState(self, newstate):
        old = self.state
        super().setState(newstate)
        if newstate == pctx.STATE_ENCRYPTED:
            key = self.crypto.theirPubkey
            if self.getCurrentTrust() is None:
                emit('new_fingerprint', peer=self.peer, fingerprint=str(key))
                self.setCurrentTrust('')
            trust = self.getCurrentTrust()
            self.user.secure_count += 1
            emit('secure', peer=self.peer, fingerprint=str(key), trusted=bool(trust),
                 version=2, our_instag=None, their_instag=None,
                 refreshed=(old == pctx.STATE_ENCRYPTED))
        elif newstate == pctx.STATE_FINISHED and old != pctx.STATE_FINISHED:
            emit('finished', peer=self.peer, their_instag=None)
        elif newstate == pctx.STATE_PLAINTEXT and old == pctx.STATE_ENCRYPTED:
            emit('insecure', peer=self.peer, their_instag=None)


class PeerAccount(pctx.Account):
    contextclass = PeerContext

    def __init__(self, name, protocol, mms, directory, policy, sink=None):
        super().__init__(name, protocol, mms)
        self.directory = directory
        self.policyset = POLICIES[policy]
        self.keyfile = os.path.join(directory, 'potr.private_key')
        self.trustfile = os.path.join(directory, 'potr.fingerprints')
        self.sink = sink
        self.secure_count = 0
        self.loadTrusts()

    # private key: one line, base64 of potr's serializePrivateKey()
    def loadPrivkey(self):
        try:
            with open(self.keyfile, 'rb') as f:
                data = base64.b64decode(f.read().strip())
        except FileNotFoundError:
            return None
        key, _ = DSAKey.parsePrivateKey(data)
        return key

    def savePrivkey(self):
        tmp = self.keyfile + '.tmp'
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'wb') as f:
            f.write(base64.b64encode(self.privkey.serializePrivateKey()) + b'\n')
        os.replace(tmp, self.keyfile)

    # trusts: libotr-like lines "peer\taccount\tprotocol\tfingerprint-hex\ttrust"
    def loadTrusts(self):
        try:
            with open(self.trustfile, 'r', encoding='utf-8') as f:
                for line in f:
                    parts = line.rstrip('\n').split('\t')
                    if len(parts) < 4:
                        continue
                    peer, _acct, _proto, fpr = parts[:4]
                    trust = parts[4] if len(parts) > 4 else ''
                    self.trusts.setdefault(peer, {})[fpr] = trust
        except FileNotFoundError:
            pass

    def saveTrusts(self):
        if self.sink is not None:
            return
        tmp = self.trustfile + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            for peer, fprs in sorted(self.trusts.items()):
                for fpr, trust in sorted(fprs.items()):
                    f.write('%s\t%s\t%s\t%s\t%s\n' % (peer, self.name, self.protocol,
                                                     fpr, trust or ''))
        os.replace(tmp, self.trustfile)


# --------------------------------------------------------------------------
# Operations
# --------------------------------------------------------------------------


def smp_result_from_tlvs(ctx, tlvs):
    """Map the SMP TLVs potr just processed to smp results (potr has no SMP
    callbacks: the outcome is in ctx.crypto.smp.state / .prog)."""
    out = []
    for tlv in tlvs:
        smp = ctx.crypto.smp
        prog = smp.prog if smp else None
        if isinstance(tlv, pproto.SMPABORTTLV):
            out.append(('aborted', None))
        elif isinstance(tlv, (pproto.SMP1TLV, pproto.SMP1QTLV)):
            if smp and smp.state == 0 and prog == pcrypt.SMPPROG_OK:
                q = tlv.msg if isinstance(tlv, pproto.SMP1QTLV) else None
                out.append(('asked', q))
            else:
                out.append(('cheated', None))
        elif isinstance(tlv, pproto.SMP2TLV):
            if smp and smp.state == 4 and prog == pcrypt.SMPPROG_OK:
                out.append(('in_progress', None))
            else:
                out.append(('cheated', None))
        elif isinstance(tlv, (pproto.SMP3TLV, pproto.SMP4TLV)):
            if prog == pcrypt.SMPPROG_SUCCEEDED:
                out.append(('success', None))
            elif prog == pcrypt.SMPPROG_FAILED:
                out.append(('failure', None))
            else:
                out.append(('cheated', None))
    return out


PROGRESS = {'asked': 25, 'in_progress': 60, 'success': 100, 'failure': 100,
            'aborted': 0, 'cheated': 0, 'error': 0}


def do_recv(acct, frm, data):
    """Returns (plaintext bytes or None, encrypted, smp results)."""
    ctx = acct.getContext(frm)
    try:
        plain, tlvs = ctx.receiveMessage(data)
    except pctx.NotOTRMessage as e:
        msg = e.args[0] if e.args else data
        if isinstance(msg, str):
            msg = msg.encode('utf-8')
        return msg, False, []
    except pctx.UnencryptedMessage as e:
        msg = e.args[0] if e.args else data
        emit('msg_event', kind='OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED', peer=frm,
             detail=b64(msg), err=0)
        return None, False, []
    except pctx.ErrorReceived as e:
        err = e.args[0].error if e.args and hasattr(e.args[0], 'error') else b''
        emit('msg_event', kind='OTRL_MSGEVENT_RCVDMSG_GENERAL_ERR', peer=frm,
             detail=b64(err), err=0)
        return None, False, []
    except pctx.NotEncryptedError:
        emit('msg_event', kind='OTRL_MSGEVENT_RCVDMSG_NOT_IN_PRIVATE', peer=frm,
             detail=None, err=0)
        return None, False, []
    except pcrypt.InvalidParameterError:
        emit('msg_event', kind='OTRL_MSGEVENT_RCVDMSG_UNREADABLE', peer=frm,
             detail=None, err=0)
        return None, False, []
    except Exception as e:  # potr raised on hostile / unexpected input
        log('receiveMessage raised: %s' % traceback.format_exc())
        emit('msg_event', kind='OTRL_MSGEVENT_RCVDMSG_MALFORMED', peer=frm,
             detail=b64(repr(e)), err=0)
        return None, False, []
    smp = smp_result_from_tlvs(ctx, tlvs or [])
    if plain:
        return plain, ctx.state == pctx.STATE_ENCRYPTED, smp
    return None, False, smp


def do_send(acct, to, data):
    """Returns the message the application must send itself, or None."""
    ctx = acct.getContext(to)
    if ctx.state == pctx.STATE_PLAINTEXT and ctx.getPolicy('REQUIRE_ENCRYPTION'):
        emit('msg_event', kind='OTRL_MSGEVENT_ENCRYPTION_REQUIRED', peer=to,
             detail=None, err=0)
    try:
        out = ctx.sendMessage(pctx.FRAGMENT_SEND_ALL_BUT_LAST, data)
    except pctx.NotEncryptedError:
        emit('msg_event', kind='OTRL_MSGEVENT_CONNECTION_ENDED', peer=to,
             detail=None, err=0)
        return None
    if out is None:
        return None
    if isinstance(out, str):
        out = out.encode('utf-8')
    return bytes(out)


def emit_smp(peer, results):
    for result, q in results:
        emit('smp', peer=peer, result=result, progress=PROGRESS.get(result, 0),
             question_b64=b64(q) if q is not None else None)


# --------------------------------------------------------------------------
# Bench: two accounts in one process, messages through memory
# --------------------------------------------------------------------------


def run_bench(iterations):
    import tempfile
    iterations = max(1, min(int(iterations), 10000))
    queue = []  # (to_account, from_name, bytes)
    with tempfile.TemporaryDirectory(prefix='potr_peer_bench.') as d:
        accts = {}

        def sink_for(name):
            return lambda to, msg: queue.append((to, name, msg))
        for name in ('alice@bench.example', 'bob@bench.example'):
            os.mkdir(os.path.join(d, name))
            accts[name] = PeerAccount(name, 'xmpp', 0, os.path.join(d, name), 'default',
                                      sink=sink_for(name))
            accts[name].getPrivkey()  # key generation: untimed
        a, b = accts['alice@bench.example'], accts['bob@bench.example']
        QUIET[0] = True
        asked = []

        def pump():
            delivered = []
            guard = 0
            while queue and guard < 100000:
                guard += 1
                to, frm, msg = queue.pop(0)
                plain, _enc, smp = do_recv(accts[to], frm, msg)
                if plain:
                    delivered.append(plain)
                for result, _q in smp:
                    if result == 'asked':
                        asked.append((to, frm))
                    elif result in ('success',):
                        results.append((to, result))
                    elif result != 'in_progress':
                        results.append((to, result))
                while asked:
                    who, peer = asked.pop(0)
                    accts[who].getContext(peer).smpGotSecret(b'bench secret')
            return delivered

        results = []
        try:
            ake = 0.0
            for i in range(iterations):
                for x, y in ((a, b), (b, a)):
                    c = x.getContext(y.name)
                    if c.state == pctx.STATE_ENCRYPTED:
                        c.disconnect()
                    elif c.state == pctx.STATE_FINISHED:
                        c.setState(pctx.STATE_PLAINTEXT)
                    pump()
                t0 = time.perf_counter()
                queue.append((b.name, a.name, a.getDefaultQueryMessage(a.getContext(b.name).getPolicy)))
                pump()
                t1 = time.perf_counter()
                if not (a.getContext(b.name).state == pctx.STATE_ENCRYPTED and
                        b.getContext(a.name).state == pctx.STATE_ENCRYPTED):
                    raise RuntimeError('AKE %d did not reach ENCRYPTED on both sides' % i)
                ake += t1 - t0
            text = bytes(ord('a') + i % 26 for i in range(1024))
            ndata = iterations * 10
            t0 = time.perf_counter()
            for i in range(ndata):
                out = do_send(a, b.name, text)
                if out is not None:
                    queue.append((b.name, a.name, out))
                got = pump()
                if got != [text]:
                    raise RuntimeError('data message %d not delivered intact' % i)
            t1 = time.perf_counter()
            data_us = (t1 - t0) * 1e6 / ndata
            smp = 0.0
            for i in range(iterations):
                del results[:]
                t0 = time.perf_counter()
                a.getContext(b.name).smpInit(b'bench secret')
                pump()
                t1 = time.perf_counter()
                if sorted(results) != sorted([(a.name, 'success'), (b.name, 'success')]):
                    raise RuntimeError('SMP %d did not succeed on both sides: %r' % (i, results))
                smp += t1 - t0
        except Exception as e:
            QUIET[0] = False
            emit('error', message='bench: %s' % e)
            return 1
        QUIET[0] = False
        emit('bench', ake_us=round(ake * 1e6 / iterations, 3), data_1k_us=round(data_us, 3),
             data_1k_per_s=round(1e6 / data_us, 3), smp_us=round(smp * 1e6 / iterations, 3),
             iterations=iterations, data_messages=ndata, potr='1.0.2')
    return 0


# --------------------------------------------------------------------------
# Line protocol
# --------------------------------------------------------------------------


def ready_fields(acct):
    return dict(fingerprint=str(acct.getPrivkey()), instag=None, account=acct.name)


def handle(acct, line):
    """Returns True on quit."""
    w = line.split()
    if not w:
        return False
    cmd, args = w[0], w[1:]

    def arg(i, allow_nul=False):
        try:
            data = unb64(args[i])
        except Exception:
            raise ValueError('%s: invalid base64 argument' % cmd)
        if not allow_nul and b'\0' in data:
            # same rule as libotr_peer (C strings); NUL also separates TLVs
            raise ValueError('%s: decoded argument contains a NUL byte' % cmd)
        return data

    def known(peer):
        if peer not in acct.ctxs:
            raise ValueError('%s: no context for %s' % (cmd, peer))
        return acct.getContext(peer)

    try:
        if cmd == 'recv' and len(args) == 2:
            plain, enc, smp = do_recv(acct, args[0], arg(1))
            if plain is not None:
                emit('message', **{'from': args[0], 'b64': b64(plain), 'encrypted': enc})
            emit_smp(args[0], smp)
        elif cmd == 'send' and len(args) == 2:
            out = do_send(acct, args[0], arg(1))
            if out:
                emit('out', to=args[0], b64=b64(out))
        elif cmd == 'start' and len(args) == 1:
            ctx = acct.getContext(args[0])
            ctx.inject(acct.getDefaultQueryMessage(ctx.getPolicy))
        elif cmd == 'end' and len(args) == 1:
            ctx = acct.getContext(args[0])
            if ctx.state == pctx.STATE_ENCRYPTED:
                ctx.disconnect()
            elif ctx.state == pctx.STATE_FINISHED:
                ctx.setState(pctx.STATE_PLAINTEXT)
            emit('ended', peer=args[0])
        elif cmd == 'smp' and len(args) in (2, 3):
            ctx = need_encrypted(acct, cmd, args[0])
            if ctx:
                q = arg(2) if len(args) == 3 else None
                ctx.smpInit(arg(1, True), question=q)
        elif cmd == 'smp-answer' and len(args) == 2:
            ctx = need_encrypted(acct, cmd, args[0])
            if ctx:
                ctx.smpGotSecret(arg(1, True))
        elif cmd == 'smp-abort' and len(args) == 1:
            ctx = need_encrypted(acct, cmd, args[0])
            if ctx:
                ctx.smpAbort()
        elif cmd == 'trust' and len(args) == 1:
            ctx = known(args[0])
            if ctx.getCurrentKey() is None:
                emit('error', message='trust: no active fingerprint for %s' % args[0])
            else:
                ctx.setCurrentTrust('verified')
                emit('trusted', peer=args[0], fingerprint=str(ctx.getCurrentKey()))
        elif cmd == 'fingerprint' and not args:
            emit('fingerprint', **ready_fields(acct))
        elif cmd == 'peer-fingerprint' and len(args) == 1:
            ctx = known(args[0])
            key = ctx.getCurrentKey()
            trust = ctx.getCurrentTrust()
            emit('peer_fingerprint', peer=args[0], fingerprint=str(key) if key else None,
                 trusted=bool(trust), trust=trust)
        elif cmd == 'keys' and len(args) == 1:
            ctx = known(args[0])
            emit('keys', peer=args[0], our_keyid=ctx.crypto.ourKeyid,
                 their_keyid=ctx.crypto.theirKeyid, protocol_version=2,
                 msgstate=STATE_NAMES.get(ctx.state, 'unknown'),
                 our_instag=None, their_instag=None)
        elif cmd == 'poll' and not args:
            emit('polled')  # potr has no timers: nothing to do
        elif cmd == 'bench' and len(args) == 1:
            run_bench(int(args[0]))
        elif cmd == 'quit' and not args:
            return True
        else:
            emit('error', message='unknown command or wrong number of arguments: %s' % cmd)
    except ValueError as e:
        emit('error', message=str(e))
    except Exception as e:
        log(traceback.format_exc())
        emit('error', message='%s: %s: %s' % (cmd, type(e).__name__, e))
    return False


def need_encrypted(acct, cmd, peer):
    if peer not in acct.ctxs:
        emit('error', message='%s: no context for %s' % (cmd, peer))
        return None
    ctx = acct.getContext(peer)
    if ctx.state != pctx.STATE_ENCRYPTED:
        emit('error', message='%s: context for %s is %s, not encrypted'
             % (cmd, peer, STATE_NAMES.get(ctx.state)))
        return None
    return ctx


def main():
    ap = argparse.ArgumentParser(description='potr reference OTR peer')
    ap.add_argument('--account')
    ap.add_argument('--protocol', default='xmpp')
    ap.add_argument('--dir')
    ap.add_argument('--policy', default='default', choices=sorted(POLICIES))
    ap.add_argument('--max-fragment', type=int, default=0)
    ap.add_argument('--bench', type=int)
    a = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    if a.bench is not None:
        return run_bench(a.bench)
    if not a.account or not a.dir or a.max_fragment < 0:
        ap.error('--account and --dir are required')
    if a.max_fragment and a.max_fragment < 40:
        ap.error('--max-fragment must be 0 or >= 40 (potr subtracts 19 for the header)')
    os.makedirs(a.dir, mode=0o700, exist_ok=True)
    acct = PeerAccount(a.account, a.protocol, a.max_fragment, a.dir, a.policy)
    if acct.loadPrivkey() is None:
        emit('keygen', stage='start', account=a.account)
        acct.getPrivkey()  # generates and calls savePrivkey
        emit('keygen', stage='done', account=a.account, err=0)
    emit('ready', **ready_fields(acct))
    stdin = sys.stdin.buffer
    while True:
        raw = stdin.readline()
        if not raw:
            break
        line = raw.decode('utf-8', 'replace').rstrip('\r\n')
        if handle(acct, line):
            break
    return 0


if __name__ == '__main__':
    sys.exit(main())
