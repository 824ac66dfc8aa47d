/*
 * libotr_peer: a reference OTR peer built on libotr 4.1.1, driven line by line.
 *
 * stdin: one command per line (see README.md in this directory).
 * stdout: one JSON object per line, flushed after each line. Nothing else.
 * stderr: diagnostics.
 *
 * libotr does all of the protocol; this file only moves bytes between libotr
 * and the line protocol, and (for `bench`) between two in-process userstates.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libotr/proto.h>
#include <libotr/userstate.h>
#include <libotr/context.h>
#include <libotr/context_priv.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/tlv.h>

/* ------------------------------------------------------------------ */
/* Small dynamic string buffer and JSON output                          */
/* ------------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static void buf_reserve(Buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < b->len + extra + 1) ncap *= 2;
    char *np = realloc(b->p, ncap);
    if (!np) {
        fprintf(stderr, "libotr_peer: out of memory\n");
        exit(70);
    }
    b->p = np;
    b->cap = ncap;
}

static void buf_add(Buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_adds(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_printf(Buf *b, const char *fmt, ...)
{
    va_list ap;
    char tmp[512];
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        buf_add(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* JSON string escaper. Bytes >= 0x80 are passed through (callers only hand
 * it ASCII or UTF-8 text; arbitrary bytes always go through base64). */
static void buf_json_str(Buf *b, const char *s)
{
    buf_add(b, "\"", 1);
    if (s) {
        for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
            switch (*c) {
            case '"': buf_add(b, "\\\"", 2); break;
            case '\\': buf_add(b, "\\\\", 2); break;
            case '\n': buf_add(b, "\\n", 2); break;
            case '\r': buf_add(b, "\\r", 2); break;
            case '\t': buf_add(b, "\\t", 2); break;
            case '\b': buf_add(b, "\\b", 2); break;
            case '\f': buf_add(b, "\\f", 2); break;
            default:
                if (*c < 0x20 || *c == 0x7f) {
                    buf_printf(b, "\\u%04x", *c);
                } else {
                    buf_add(b, (const char *)c, 1);
                }
            }
        }
    }
    buf_add(b, "\"", 1);
}

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void buf_b64(Buf *b, const unsigned char *d, size_t n)
{
    buf_reserve(b, (n + 2) / 3 * 4 + 2);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16;
        if (i + 1 < n) v |= (unsigned)d[i + 1] << 8;
        if (i + 2 < n) v |= d[i + 2];
        char q[4];
        q[0] = B64[(v >> 18) & 63];
        q[1] = B64[(v >> 12) & 63];
        q[2] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? B64[v & 63] : '=';
        buf_add(b, q, 4);
    }
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Strict standard base64 with padding. Returns malloc'd NUL-terminated
 * buffer (the NUL is extra), *outlen = decoded length; NULL if invalid. */
static unsigned char *b64_decode(const char *s, size_t *outlen)
{
    size_t n = strlen(s);
    if (n % 4 != 0) return NULL;
    unsigned char *out = malloc(n / 4 * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = s[i + j];
            if (c == '=') {
                /* padding only in the last quantum, positions 2/3 */
                if (i + 4 != n || j < 2) goto bad;
                v[j] = 0;
                pad++;
            } else {
                if (pad) goto bad;
                v[j] = b64val((unsigned char)c);
                if (v[j] < 0) goto bad;
            }
        }
        unsigned w = ((unsigned)v[0] << 18) | ((unsigned)v[1] << 12) |
                     ((unsigned)v[2] << 6) | (unsigned)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2) out[o++] = (unsigned char)(w >> 8);
        if (pad < 1) out[o++] = (unsigned char)w;
    }
    out[o] = '\0';
    *outlen = o;
    return out;
bad:
    free(out);
    return NULL;
}

/* One event line: ev_begin("name"), ev_str/ev_int/..., ev_end(). */
static Buf ev;
static int quiet_events = 0; /* bench mode: no event lines */

static void ev_begin(const char *name)
{
    ev.len = 0;
    buf_reserve(&ev, 64);
    ev.p[0] = '\0';
    buf_adds(&ev, "{\"event\":");
    buf_json_str(&ev, name);
}

static void ev_key(const char *k)
{
    buf_adds(&ev, ",");
    buf_json_str(&ev, k);
    buf_adds(&ev, ":");
}

static void ev_str(const char *k, const char *v)
{
    ev_key(k);
    if (v) buf_json_str(&ev, v);
    else buf_adds(&ev, "null");
}

static void ev_b64(const char *k, const unsigned char *d, size_t n)
{
    ev_key(k);
    buf_adds(&ev, "\"");
    buf_b64(&ev, d, n);
    buf_adds(&ev, "\"");
}

static void ev_int(const char *k, long long v)
{
    ev_key(k);
    buf_printf(&ev, "%lld", v);
}

static void ev_num(const char *k, double v)
{
    ev_key(k);
    buf_printf(&ev, "%.3f", v);
}

static void ev_bool(const char *k, int v)
{
    ev_key(k);
    buf_adds(&ev, v ? "true" : "false");
}

static void ev_instag(const char *k, otrl_instag_t t)
{
    char tmp[16];
    snprintf(tmp, sizeof tmp, "0x%08x", (unsigned)t);
    ev_str(k, tmp);
}

static void ev_end(void)
{
    if (quiet_events) return;
    buf_adds(&ev, "}\n");
    fwrite(ev.p, 1, ev.len, stdout);
    fflush(stdout);
}

static void emit_error(const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    ev_begin("error");
    ev_str("message", tmp);
    ev_end();
}

/* ------------------------------------------------------------------ */
/* Peer state                                                           */
/* ------------------------------------------------------------------ */

typedef struct MsgNode {
    struct MsgNode *next;
    char *to;   /* recipient username */
    char *msg;
} MsgNode;

typedef struct Peer {
    OtrlUserState us;
    const char *account;
    const char *protocol;
    char keyfile[4096], fpfile[4096], instagfile[4096];
    OtrlPolicy policy;
    int mms;
    unsigned int timer_interval; /* from timer_control, 0 = off */
    /* bench mode: injected messages go to the other peer's queue */
    int bench;
    struct Peer *other;
    MsgNode *qhead, *qtail; /* inbox */
    int secure_count;
    int smp_success;
    int smp_asked;
    int smp_other;
} Peer;

static OtrlMessageAppOps ops;

static void human_fp(const unsigned char *fp20, char out[OTRL_PRIVKEY_FPRINT_HUMAN_LEN])
{
    if (fp20) otrl_privkey_hash_to_human(out, fp20);
    else out[0] = '\0';
}

static const char *msgstate_name(OtrlMessageState s)
{
    switch (s) {
    case OTRL_MSGSTATE_PLAINTEXT: return "plaintext";
    case OTRL_MSGSTATE_ENCRYPTED: return "encrypted";
    case OTRL_MSGSTATE_FINISHED: return "finished";
    }
    return "unknown";
}

static void queue_push(Peer *p, const char *to, const char *msg)
{
    MsgNode *n = calloc(1, sizeof *n);
    if (!n) exit(70);
    n->to = strdup(to);
    n->msg = strdup(msg);
    if (!n->to || !n->msg) exit(70);
    if (p->qtail) p->qtail->next = n;
    else p->qhead = n;
    p->qtail = n;
}

static MsgNode *queue_pop(Peer *p)
{
    MsgNode *n = p->qhead;
    if (n) {
        p->qhead = n->next;
        if (!p->qhead) p->qtail = NULL;
    }
    return n;
}

static void node_free(MsgNode *n)
{
    free(n->to);
    free(n->msg);
    free(n);
}

/* Track msgstate transitions of every context, to report FINISHED (the
 * buddy sent a disconnect TLV) which libotr reports through no callback. */
#define MAXTRACK 256
static struct {
    ConnContext *ctx;
    OtrlMessageState st;
} track[MAXTRACK];
static int ntrack;

static void check_transitions(Peer *p)
{
    for (ConnContext *c = p->us->context_root; c; c = c->next) {
        int i;
        for (i = 0; i < ntrack; i++)
            if (track[i].ctx == c) break;
        if (i == ntrack) {
            if (ntrack == MAXTRACK) continue;
            track[ntrack].ctx = c;
            track[ntrack].st = OTRL_MSGSTATE_PLAINTEXT;
            ntrack++;
        }
        if (track[i].st != c->msgstate) {
            if (c->msgstate == OTRL_MSGSTATE_FINISHED && !p->bench) {
                ev_begin("finished");
                ev_str("peer", c->username);
                ev_instag("their_instag", c->their_instance);
                ev_end();
            }
            track[i].st = c->msgstate;
        }
    }
}

/* ------------------------------------------------------------------ */
/* libotr callbacks                                                     */
/* ------------------------------------------------------------------ */

static OtrlPolicy cb_policy(void *opdata, ConnContext *context)
{
    (void)context;
    return ((Peer *)opdata)->policy;
}

static void generate_key(Peer *p, const char *accountname, const char *protocol)
{
    if (!p->bench) {
        ev_begin("keygen");
        ev_str("stage", "start");
        ev_str("account", accountname);
        ev_end();
    }
    gcry_error_t err = otrl_privkey_generate(p->us, p->keyfile, accountname, protocol);
    if (!p->bench) {
        ev_begin("keygen");
        ev_str("stage", err ? "failed" : "done");
        ev_str("account", accountname);
        ev_int("err", (long long)err);
        ev_end();
    }
}

static void generate_instag(Peer *p, const char *accountname, const char *protocol)
{
    gcry_error_t err = otrl_instag_generate(p->us, p->instagfile, accountname, protocol);
    if (!p->bench) {
        ev_begin("instag_generated");
        ev_str("account", accountname);
        ev_int("err", (long long)err);
        ev_end();
    }
}

static void cb_create_privkey(void *opdata, const char *accountname, const char *protocol)
{
    generate_key((Peer *)opdata, accountname, protocol);
}

static int cb_is_logged_in(void *opdata, const char *accountname,
                           const char *protocol, const char *recipient)
{
    (void)opdata; (void)accountname; (void)protocol; (void)recipient;
    return 1;
}

static void cb_inject(void *opdata, const char *accountname, const char *protocol,
                      const char *recipient, const char *message)
{
    Peer *p = opdata;
    (void)accountname; (void)protocol;
    if (p->bench) {
        queue_push(p->other, p->account, message);
        return;
    }
    ev_begin("inject");
    ev_str("to", recipient);
    ev_b64("b64", (const unsigned char *)message, strlen(message));
    ev_end();
}

static void cb_update_context_list(void *opdata) { (void)opdata; }

static void cb_new_fingerprint(void *opdata, OtrlUserState us, const char *accountname,
                               const char *protocol, const char *username,
                               unsigned char fingerprint[20])
{
    Peer *p = opdata;
    (void)us; (void)accountname; (void)protocol;
    if (p->bench) return;
    char h[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    human_fp(fingerprint, h);
    ev_begin("new_fingerprint");
    ev_str("peer", username);
    ev_str("fingerprint", h);
    ev_end();
}

static void cb_write_fingerprints(void *opdata)
{
    Peer *p = opdata;
    if (p->bench) return;
    gcry_error_t err = otrl_privkey_write_fingerprints(p->us, p->fpfile);
    if (err) fprintf(stderr, "libotr_peer: writing fingerprints failed: %u\n", (unsigned)err);
}

static void emit_secure(Peer *p, ConnContext *context, int refreshed)
{
    if (p->bench) {
        p->secure_count++;
        return;
    }
    char h[OTRL_PRIVKEY_FPRINT_HUMAN_LEN] = "";
    int trusted = 0;
    if (context->active_fingerprint) {
        human_fp(context->active_fingerprint->fingerprint, h);
        trusted = context->active_fingerprint->trust &&
                  context->active_fingerprint->trust[0] != '\0';
    }
    ev_begin("secure");
    ev_str("peer", context->username);
    ev_str("fingerprint", h);
    ev_bool("trusted", trusted);
    ev_int("version", context->protocol_version);
    ev_instag("our_instag", context->our_instance);
    ev_instag("their_instag", context->their_instance);
    ev_bool("refreshed", refreshed);
    ev_end();
}

static void cb_gone_secure(void *opdata, ConnContext *context)
{
    emit_secure(opdata, context, 0);
}

static void cb_gone_insecure(void *opdata, ConnContext *context)
{
    Peer *p = opdata;
    if (p->bench) return;
    ev_begin("insecure");
    ev_str("peer", context->username);
    ev_instag("their_instag", context->their_instance);
    ev_end();
}

static void cb_still_secure(void *opdata, ConnContext *context, int is_reply)
{
    (void)is_reply;
    emit_secure(opdata, context, 1);
}

static int cb_max_message_size(void *opdata, ConnContext *context)
{
    (void)context;
    return ((Peer *)opdata)->mms;
}

static const char *cb_account_name(void *opdata, const char *account, const char *protocol)
{
    (void)opdata; (void)protocol;
    return strdup(account);
}

static void cb_account_name_free(void *opdata, const char *account_name)
{
    (void)opdata;
    free((char *)account_name);
}

static void cb_received_symkey(void *opdata, ConnContext *context, unsigned int use,
                               const unsigned char *usedata, size_t usedatalen,
                               const unsigned char *symkey)
{
    Peer *p = opdata;
    if (p->bench) return;
    ev_begin("symkey");
    ev_str("peer", context->username);
    ev_int("use", use);
    ev_b64("usedata_b64", usedata, usedatalen);
    /* A test peer: the key is printed so the test can compare both sides'. */
    ev_b64("key_b64", symkey, OTRL_EXTRAKEY_BYTES);
    ev_end();
}

static const char *cb_otr_error_message(void *opdata, ConnContext *context,
                                        OtrlErrorCode err_code)
{
    (void)opdata; (void)context;
    switch (err_code) {
    case OTRL_ERRCODE_ENCRYPTION_ERROR:
        return strdup("Error occurred encrypting message.");
    case OTRL_ERRCODE_MSG_NOT_IN_PRIVATE:
        return strdup("You sent encrypted data to a peer who wasn't expecting it.");
    case OTRL_ERRCODE_MSG_UNREADABLE:
        return strdup("You transmitted an unreadable encrypted message.");
    case OTRL_ERRCODE_MSG_MALFORMED:
        return strdup("You transmitted a malformed data message.");
    case OTRL_ERRCODE_NONE:
        break;
    }
    return strdup("Unknown error.");
}

static void cb_otr_error_message_free(void *opdata, const char *err_msg)
{
    (void)opdata;
    free((char *)err_msg);
}

static const char *cb_resent_msg_prefix(void *opdata, ConnContext *context)
{
    (void)opdata; (void)context;
    return strdup("[resent]");
}

static void cb_resent_msg_prefix_free(void *opdata, const char *prefix)
{
    (void)opdata;
    free((char *)prefix);
}

static void cb_handle_smp_event(void *opdata, OtrlSMPEvent smp_event, ConnContext *context,
                                unsigned short progress_percent, char *question)
{
    Peer *p = opdata;
    const char *result = NULL;
    switch (smp_event) {
    case OTRL_SMPEVENT_NONE: result = "none"; break;
    case OTRL_SMPEVENT_ERROR: result = "error"; break;
    case OTRL_SMPEVENT_ABORT: result = "aborted"; break;
    case OTRL_SMPEVENT_CHEATED: result = "cheated"; break;
    case OTRL_SMPEVENT_ASK_FOR_ANSWER: result = "asked"; break;
    case OTRL_SMPEVENT_ASK_FOR_SECRET: result = "asked"; break;
    case OTRL_SMPEVENT_IN_PROGRESS: result = "in_progress"; break;
    case OTRL_SMPEVENT_SUCCESS: result = "success"; break;
    case OTRL_SMPEVENT_FAILURE: result = "failure"; break;
    }
    if (p->bench) {
        if (smp_event == OTRL_SMPEVENT_SUCCESS) p->smp_success++;
        else if (smp_event == OTRL_SMPEVENT_ASK_FOR_SECRET) p->smp_asked++;
        else if (smp_event != OTRL_SMPEVENT_IN_PROGRESS) p->smp_other++;
    } else {
        ev_begin("smp");
        ev_str("peer", context->username);
        ev_str("result", result ? result : "unknown");
        ev_int("progress", progress_percent);
        if (smp_event == OTRL_SMPEVENT_ASK_FOR_ANSWER && question)
            ev_b64("question_b64", (const unsigned char *)question, strlen(question));
        else
            ev_str("question_b64", NULL);
        ev_end();
    }
    /* As message.h directs: on cheating / error, abort the SM protocol. */
    if (smp_event == OTRL_SMPEVENT_CHEATED || smp_event == OTRL_SMPEVENT_ERROR)
        otrl_message_abort_smp(p->us, &ops, p, context);
}

static const char *msgevent_name(OtrlMessageEvent e)
{
    switch (e) {
#define N(x) case x: return #x;
    N(OTRL_MSGEVENT_NONE)
    N(OTRL_MSGEVENT_ENCRYPTION_REQUIRED)
    N(OTRL_MSGEVENT_ENCRYPTION_ERROR)
    N(OTRL_MSGEVENT_CONNECTION_ENDED)
    N(OTRL_MSGEVENT_SETUP_ERROR)
    N(OTRL_MSGEVENT_MSG_REFLECTED)
    N(OTRL_MSGEVENT_MSG_RESENT)
    N(OTRL_MSGEVENT_RCVDMSG_NOT_IN_PRIVATE)
    N(OTRL_MSGEVENT_RCVDMSG_UNREADABLE)
    N(OTRL_MSGEVENT_RCVDMSG_MALFORMED)
    N(OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD)
    N(OTRL_MSGEVENT_LOG_HEARTBEAT_SENT)
    N(OTRL_MSGEVENT_RCVDMSG_GENERAL_ERR)
    N(OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED)
    N(OTRL_MSGEVENT_RCVDMSG_UNRECOGNIZED)
    N(OTRL_MSGEVENT_RCVDMSG_FOR_OTHER_INSTANCE)
#undef N
    }
    return "OTRL_MSGEVENT_UNKNOWN";
}

static void cb_handle_msg_event(void *opdata, OtrlMessageEvent msg_event, ConnContext *context,
                                const char *message, gcry_error_t err)
{
    Peer *p = opdata;
    if (p->bench) {
        if (msg_event != OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD &&
            msg_event != OTRL_MSGEVENT_LOG_HEARTBEAT_SENT)
            fprintf(stderr, "bench: unexpected msg event %s\n", msgevent_name(msg_event));
        return;
    }
    ev_begin("msg_event");
    ev_str("kind", msgevent_name(msg_event));
    ev_str("peer", context ? context->username : NULL);
    if (message) ev_b64("detail", (const unsigned char *)message, strlen(message));
    else ev_str("detail", NULL);
    ev_int("err", (long long)err);
    ev_end();
}

static void cb_create_instag(void *opdata, const char *accountname, const char *protocol)
{
    generate_instag((Peer *)opdata, accountname, protocol);
}

static void cb_timer_control(void *opdata, unsigned int interval)
{
    Peer *p = opdata;
    p->timer_interval = interval;
    if (!p->bench) {
        ev_begin("timer");
        ev_int("interval", interval);
        ev_end();
    }
}

static void init_ops(void)
{
    memset(&ops, 0, sizeof ops);
    ops.policy = cb_policy;
    ops.create_privkey = cb_create_privkey;
    ops.is_logged_in = cb_is_logged_in;
    ops.inject_message = cb_inject;
    ops.update_context_list = cb_update_context_list;
    ops.new_fingerprint = cb_new_fingerprint;
    ops.write_fingerprints = cb_write_fingerprints;
    ops.gone_secure = cb_gone_secure;
    ops.gone_insecure = cb_gone_insecure;
    ops.still_secure = cb_still_secure;
    ops.max_message_size = cb_max_message_size;
    ops.account_name = cb_account_name;
    ops.account_name_free = cb_account_name_free;
    ops.received_symkey = cb_received_symkey;
    ops.otr_error_message = cb_otr_error_message;
    ops.otr_error_message_free = cb_otr_error_message_free;
    ops.resent_msg_prefix = cb_resent_msg_prefix;
    ops.resent_msg_prefix_free = cb_resent_msg_prefix_free;
    ops.handle_smp_event = cb_handle_smp_event;
    ops.handle_msg_event = cb_handle_msg_event;
    ops.create_instag = cb_create_instag;
    ops.convert_msg = NULL;    /* no message conversion */
    ops.convert_free = NULL;
    ops.timer_control = cb_timer_control;
}

/* ------------------------------------------------------------------ */
/* Peer setup                                                           */
/* ------------------------------------------------------------------ */

static int peer_open(Peer *p, const char *dir, const char *account, const char *protocol,
                     OtrlPolicy policy, int mms, int bench)
{
    memset(p, 0, sizeof *p);
    p->us = otrl_userstate_create();
    p->account = account;
    p->protocol = protocol;
    p->policy = policy;
    p->mms = mms;
    p->bench = bench;
    snprintf(p->keyfile, sizeof p->keyfile, "%s/otr.private_key", dir);
    snprintf(p->fpfile, sizeof p->fpfile, "%s/otr.fingerprints", dir);
    snprintf(p->instagfile, sizeof p->instagfile, "%s/otr.instance_tags", dir);

    gcry_error_t err = otrl_privkey_read(p->us, p->keyfile);
    if (err && access(p->keyfile, F_OK) == 0) {
        fprintf(stderr, "libotr_peer: cannot read %s (err %u)\n", p->keyfile, (unsigned)err);
        return -1;
    }
    if (!otrl_privkey_find(p->us, account, protocol)) {
        generate_key(p, account, protocol);
        if (!otrl_privkey_find(p->us, account, protocol)) {
            fprintf(stderr, "libotr_peer: key generation failed\n");
            return -1;
        }
    }
    err = otrl_privkey_read_fingerprints(p->us, p->fpfile, NULL, NULL);
    if (err && access(p->fpfile, F_OK) == 0) {
        fprintf(stderr, "libotr_peer: cannot read %s (err %u)\n", p->fpfile, (unsigned)err);
        return -1;
    }
    err = otrl_instag_read(p->us, p->instagfile);
    if (err && access(p->instagfile, F_OK) == 0) {
        fprintf(stderr, "libotr_peer: cannot read %s (err %u)\n", p->instagfile, (unsigned)err);
        return -1;
    }
    if (!otrl_instag_find(p->us, account, protocol)) {
        generate_instag(p, account, protocol);
        if (!otrl_instag_find(p->us, account, protocol)) {
            fprintf(stderr, "libotr_peer: instance tag generation failed\n");
            return -1;
        }
    }
    return 0;
}

static ConnContext *find_ctx(Peer *p, const char *user, int create)
{
    return otrl_context_find(p->us, user, p->account, p->protocol, OTRL_INSTAG_BEST,
                             create, NULL, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* Operations shared by the line protocol and bench                     */
/* ------------------------------------------------------------------ */

/* Send plaintext. Fragment policy OTRL_FRAGMENT_SEND_ALL_BUT_LAST (as
 * pidgin-otr): all fragments but the last are injected (inject events), the
 * last one -- or the whole message if not fragmented, or the original
 * plaintext when libotr left it untouched -- is returned in *outp for the
 * application to send itself (out event). *outp NULL: send nothing. */
static gcry_error_t do_send(Peer *p, const char *to, const char *text, char **outp)
{
    char *newmsg = NULL;
    ConnContext *ctx = NULL;
    *outp = NULL;
    gcry_error_t err = otrl_message_sending(p->us, &ops, p, p->account, p->protocol, to,
                                            OTRL_INSTAG_BEST, text, NULL, &newmsg,
                                            OTRL_FRAGMENT_SEND_ALL_BUT_LAST, &ctx, NULL, NULL);
    if (err) {
        /* Never fall back to sending the plaintext on error. */
        if (newmsg) otrl_message_free(newmsg);
        return err;
    }
    if (newmsg) {
        if (newmsg[0] != '\0') *outp = strdup(newmsg);
        otrl_message_free(newmsg);
    } else {
        *outp = strdup(text);
    }
    return 0;
}

/* Receive a message. Returns 1 if libotr says to ignore it, else 0 with
 * *plainp set (malloc'd) and *encp whether the context was ENCRYPTED. */
static int do_recv(Peer *p, const char *from, const char *msg, char **plainp, int *encp)
{
    char *newmsg = NULL;
    OtrlTLV *tlvs = NULL;
    ConnContext *ctx = NULL;
    *plainp = NULL;
    *encp = 0;
    int ignore = otrl_message_receiving(p->us, &ops, p, p->account, p->protocol, from, msg,
                                        &newmsg, &tlvs, &ctx, NULL, NULL);
    if (tlvs) otrl_tlv_free(tlvs);
    if (!ignore) {
        *plainp = strdup(newmsg ? newmsg : msg);
        *encp = ctx && ctx->msgstate == OTRL_MSGSTATE_ENCRYPTED;
    }
    if (newmsg) otrl_message_free(newmsg);
    return ignore;
}

/* ------------------------------------------------------------------ */
/* Bench: two userstates talking through memory                         */
/* ------------------------------------------------------------------ */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Deliver queued messages until both queues are empty. Returns number of
 * plaintexts delivered to the application; last one kept in *lastp. */
static int pump(Peer *a, Peer *b, char **lastp)
{
    int delivered = 0;
    for (int guard = 0; guard < 100000; guard++) {
        Peer *dst = a->qhead ? a : (b->qhead ? b : NULL);
        if (!dst) break;
        MsgNode *n = queue_pop(dst);
        char *plain = NULL;
        int enc = 0;
        if (!do_recv(dst, n->to, n->msg, &plain, &enc)) {
            delivered++;
            if (lastp) {
                free(*lastp);
                *lastp = plain;
                plain = NULL;
            }
        }
        free(plain);
        node_free(n);
        /* A bench peer asked for the SMP secret: answer it now (outside
         * the libotr callback). */
        if (dst->smp_asked) {
            dst->smp_asked = 0;
            ConnContext *c = find_ctx(dst, dst->other->account, 0);
            otrl_message_respond_smp(dst->us, &ops, dst, c,
                                     (const unsigned char *)"bench secret", 12);
        }
    }
    return delivered;
}

static int both_encrypted(Peer *a, Peer *b)
{
    ConnContext *ca = find_ctx(a, b->account, 0);
    ConnContext *cb = find_ctx(b, a->account, 0);
    return ca && cb && ca->msgstate == OTRL_MSGSTATE_ENCRYPTED &&
           cb->msgstate == OTRL_MSGSTATE_ENCRYPTED;
}

static void send_to_queue(Peer *from, const char *text)
{
    char *out = NULL;
    gcry_error_t err = do_send(from, from->other->account, text, &out);
    if (err) fprintf(stderr, "bench: send error %u\n", (unsigned)err);
    if (out) queue_push(from->other, from->account, out);
    free(out);
}

static int run_bench(long iterations)
{
    if (iterations < 1) iterations = 1;
    if (iterations > 100000) iterations = 100000;
    char tmpl[] = "/tmp/libotr_peer_bench.XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) {
        emit_error("bench: mkdtemp failed: %s", strerror(errno));
        return -1;
    }
    int saved_quiet = quiet_events;
    Peer a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    /* Key generation happens here, untimed. */
    quiet_events = 1;
    char adir[4096], bdir[4096];
    snprintf(adir, sizeof adir, "%s/a", dir);
    snprintf(bdir, sizeof bdir, "%s/b", dir);
    mkdir(adir, 0700);
    mkdir(bdir, 0700);
    int rc = -1;
    if (peer_open(&a, adir, "alice@bench.example", "xmpp", OTRL_POLICY_DEFAULT, 0, 1) ||
        peer_open(&b, bdir, "bob@bench.example", "xmpp", OTRL_POLICY_DEFAULT, 0, 1)) {
        quiet_events = saved_quiet;
        emit_error("bench: peer setup failed");
        goto out;
    }
    a.other = &b;
    b.other = &a;

    /* (a) AKE */
    double ake_total = 0;
    for (long i = 0; i < iterations; i++) {
        /* Reset both sides to PLAINTEXT (untimed). */
        otrl_message_disconnect_all_instances(a.us, &ops, &a, a.account, a.protocol, b.account);
        pump(&a, &b, NULL);
        otrl_message_disconnect_all_instances(b.us, &ops, &b, b.account, b.protocol, a.account);
        pump(&a, &b, NULL);
        double t0 = now_us();
        char *q = otrl_proto_default_query_msg(a.account, a.policy);
        queue_push(&b, a.account, q);
        free(q);
        pump(&a, &b, NULL);
        double t1 = now_us();
        if (!both_encrypted(&a, &b)) {
            quiet_events = saved_quiet;
            emit_error("bench: AKE %ld did not reach ENCRYPTED on both sides", i);
            goto out;
        }
        ake_total += t1 - t0;
    }

    /* (b) 1 KiB data messages, alice -> bob */
    char text[1025];
    for (int i = 0; i < 1024; i++) text[i] = (char)('a' + i % 26);
    text[1024] = '\0';
    long ndata = iterations * 10;
    char *last = NULL;
    double d0 = now_us();
    for (long i = 0; i < ndata; i++) {
        send_to_queue(&a, text);
        int got = pump(&a, &b, &last);
        if (got != 1 || !last || strcmp(last, text) != 0) {
            quiet_events = saved_quiet;
            emit_error("bench: data message %ld not delivered intact", i);
            free(last);
            goto out;
        }
    }
    double d1 = now_us();
    free(last);
    double data_us = (d1 - d0) / (double)ndata;

    /* (c) SMP, success on both sides */
    double smp_total = 0;
    for (long i = 0; i < iterations; i++) {
        a.smp_success = b.smp_success = a.smp_other = b.smp_other = 0;
        double t0 = now_us();
        ConnContext *ca = find_ctx(&a, b.account, 0);
        otrl_message_initiate_smp(a.us, &ops, &a, ca, (const unsigned char *)"bench secret", 12);
        pump(&a, &b, NULL);
        double t1 = now_us();
        if (a.smp_success != 1 || b.smp_success != 1 || a.smp_other || b.smp_other) {
            quiet_events = saved_quiet;
            emit_error("bench: SMP %ld did not succeed on both sides", i);
            goto out;
        }
        smp_total += t1 - t0;
    }

    quiet_events = saved_quiet;
    ev_begin("bench");
    ev_num("ake_us", ake_total / (double)iterations);
    ev_num("data_1k_us", data_us);
    ev_num("data_1k_per_s", 1e6 / data_us);
    ev_num("smp_us", smp_total / (double)iterations);
    ev_int("iterations", iterations);
    ev_int("data_messages", ndata);
    ev_str("libotr", otrl_version());
    ev_end();
    rc = 0;
out:
    quiet_events = saved_quiet;
    if (a.us) otrl_userstate_free(a.us);
    if (b.us) otrl_userstate_free(b.us);
    {
        char path[4200];
        const char *files[] = {"otr.private_key", "otr.fingerprints", "otr.instance_tags"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", adir, files[i]);
            unlink(path);
            snprintf(path, sizeof path, "%s/%s", bdir, files[i]);
            unlink(path);
        }
        rmdir(adir);
        rmdir(bdir);
        rmdir(dir);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Line protocol                                                        */
/* ------------------------------------------------------------------ */

static void emit_own_fingerprint(Peer *p, const char *evname)
{
    char h[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    if (!otrl_privkey_fingerprint(p->us, h, p->account, p->protocol)) h[0] = '\0';
    OtrlInsTag *it = otrl_instag_find(p->us, p->account, p->protocol);
    ev_begin(evname);
    ev_str("fingerprint", h);
    ev_instag("instag", it ? it->instag : 0);
    ev_str("account", p->account);
    ev_end();
}

/* Split the line into at most max words separated by single spaces. */
static int split(char *line, char **w, int max)
{
    int n = 0;
    char *s = line;
    while (*s && n < max) {
        while (*s == ' ') s++;
        if (!*s) break;
        w[n++] = s;
        while (*s && *s != ' ') s++;
        if (*s) *s++ = '\0';
    }
    return n;
}

static char *decode_arg(const char *cmd, const char *arg, size_t *lenp, int allow_nul)
{
    size_t len = 0;
    unsigned char *d = b64_decode(arg, &len);
    if (!d) {
        emit_error("%s: invalid base64 argument", cmd);
        return NULL;
    }
    if (!allow_nul && memchr(d, '\0', len)) {
        emit_error("%s: decoded argument contains a NUL byte (libotr uses C strings)", cmd);
        free(d);
        return NULL;
    }
    if (lenp) *lenp = len;
    return (char *)d;
}

static ConnContext *need_ctx(Peer *p, const char *cmd, const char *user, int encrypted)
{
    ConnContext *c = find_ctx(p, user, 0);
    if (!c) {
        emit_error("%s: no context for %s", cmd, user);
        return NULL;
    }
    if (encrypted && c->msgstate != OTRL_MSGSTATE_ENCRYPTED) {
        emit_error("%s: context for %s is %s, not encrypted", cmd, user,
                   msgstate_name(c->msgstate));
        return NULL;
    }
    return c;
}

/* Returns 1 on quit. */
static int handle_line(Peer *p, char *line)
{
    char *w[5];
    int n = split(line, w, 5);
    if (n == 0) return 0;
    const char *cmd = w[0];

    if (!strcmp(cmd, "recv") && n == 3) {
        char *msg = decode_arg(cmd, w[2], NULL, 0);
        if (!msg) return 0;
        char *plain = NULL;
        int enc = 0;
        if (!do_recv(p, w[1], msg, &plain, &enc)) {
            ev_begin("message");
            ev_str("from", w[1]);
            ev_b64("b64", (const unsigned char *)plain, strlen(plain));
            ev_bool("encrypted", enc);
            ev_end();
        }
        free(plain);
        free(msg);
    } else if (!strcmp(cmd, "send") && n == 3) {
        char *msg = decode_arg(cmd, w[2], NULL, 0);
        if (!msg) return 0;
        char *out = NULL;
        gcry_error_t err = do_send(p, w[1], msg, &out);
        if (err) {
            emit_error("send: otrl_message_sending failed (gcry err %u); nothing sent",
                       (unsigned)err);
        }
        if (out) {
            ev_begin("out");
            ev_str("to", w[1]);
            ev_b64("b64", (const unsigned char *)out, strlen(out));
            ev_end();
        }
        free(out);
        free(msg);
    } else if (!strcmp(cmd, "start") && n == 2) {
        /* What pidgin-otr does: inject the default query message. */
        char *q = otrl_proto_default_query_msg(p->account, p->policy);
        cb_inject(p, p->account, p->protocol, w[1], q ? q : "?OTRv23?");
        free(q);
    } else if (!strcmp(cmd, "end") && n == 2) {
        otrl_message_disconnect_all_instances(p->us, &ops, p, p->account, p->protocol, w[1]);
        ev_begin("ended");
        ev_str("peer", w[1]);
        ev_end();
    } else if (!strcmp(cmd, "smp") && (n == 3 || n == 4)) {
        ConnContext *c = need_ctx(p, cmd, w[1], 1);
        if (!c) return 0;
        size_t slen = 0;
        char *secret = decode_arg(cmd, w[2], &slen, 1);
        if (!secret) return 0;
        if (n == 4) {
            char *q = decode_arg(cmd, w[3], NULL, 0);
            if (q) {
                otrl_message_initiate_smp_q(p->us, &ops, p, c, q,
                                            (const unsigned char *)secret, slen);
                free(q);
            }
        } else {
            otrl_message_initiate_smp(p->us, &ops, p, c, (const unsigned char *)secret, slen);
        }
        free(secret);
    } else if (!strcmp(cmd, "smp-answer") && n == 3) {
        ConnContext *c = need_ctx(p, cmd, w[1], 1);
        if (!c) return 0;
        size_t slen = 0;
        char *secret = decode_arg(cmd, w[2], &slen, 1);
        if (!secret) return 0;
        otrl_message_respond_smp(p->us, &ops, p, c, (const unsigned char *)secret, slen);
        free(secret);
    } else if (!strcmp(cmd, "symkey") && n == 4) {
        /* symkey PEER USE USEDATA_B64: tell the peer to use the extra
         * symmetric key (TLV 8); the key is printed (a test peer). */
        ConnContext *c = need_ctx(p, cmd, w[1], 1);
        if (!c) return 0;
        char *end = NULL;
        unsigned long use = strtoul(w[2], &end, 10);
        if (!end || *end || use > 0xffffffffUL) {
            emit_error("symkey: bad use %s", w[2]);
            return 0;
        }
        size_t dlen = 0;
        char *usedata = decode_arg(cmd, w[3], &dlen, 1);
        if (!usedata) return 0;
        unsigned char symkey[OTRL_EXTRAKEY_BYTES];
        gcry_error_t err = otrl_message_symkey(p->us, &ops, p, c, (unsigned int)use,
                                               (const unsigned char *)usedata, dlen, symkey);
        free(usedata);
        if (err) {
            emit_error("symkey: libotr error %u", (unsigned)err);
            return 0;
        }
        ev_begin("symkey-sent");
        ev_str("peer", w[1]);
        ev_b64("key_b64", symkey, OTRL_EXTRAKEY_BYTES);
        ev_end();
    } else if (!strcmp(cmd, "smp-abort") && n == 2) {
        ConnContext *c = need_ctx(p, cmd, w[1], 0);
        if (!c) return 0;
        otrl_message_abort_smp(p->us, &ops, p, c);
    } else if (!strcmp(cmd, "trust") && n == 2) {
        ConnContext *c = need_ctx(p, cmd, w[1], 0);
        if (!c) return 0;
        if (!c->active_fingerprint || !c->active_fingerprint->fingerprint) {
            emit_error("trust: no active fingerprint for %s", w[1]);
            return 0;
        }
        otrl_context_set_trust(c->active_fingerprint, "verified");
        cb_write_fingerprints(p);
        char h[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
        human_fp(c->active_fingerprint->fingerprint, h);
        ev_begin("trusted");
        ev_str("peer", w[1]);
        ev_str("fingerprint", h);
        ev_end();
    } else if (!strcmp(cmd, "fingerprint") && n == 1) {
        emit_own_fingerprint(p, "fingerprint");
    } else if (!strcmp(cmd, "peer-fingerprint") && n == 2) {
        ConnContext *c = need_ctx(p, cmd, w[1], 0);
        if (!c) return 0;
        char h[OTRL_PRIVKEY_FPRINT_HUMAN_LEN] = "";
        int trusted = 0;
        if (c->active_fingerprint && c->active_fingerprint->fingerprint) {
            human_fp(c->active_fingerprint->fingerprint, h);
            trusted = c->active_fingerprint->trust && c->active_fingerprint->trust[0];
        }
        ev_begin("peer_fingerprint");
        ev_str("peer", w[1]);
        ev_str("fingerprint", h[0] ? h : NULL);
        ev_bool("trusted", trusted);
        ev_str("trust", c->active_fingerprint ? c->active_fingerprint->trust : NULL);
        ev_end();
    } else if (!strcmp(cmd, "keys") && n == 2) {
        ConnContext *c = need_ctx(p, cmd, w[1], 0);
        if (!c) return 0;
        ev_begin("keys");
        ev_str("peer", w[1]);
        ev_int("our_keyid", c->context_priv->our_keyid);
        ev_int("their_keyid", c->context_priv->their_keyid);
        ev_int("protocol_version", c->protocol_version);
        ev_str("msgstate", msgstate_name(c->msgstate));
        ev_instag("our_instag", c->our_instance);
        ev_instag("their_instag", c->their_instance);
        ev_end();
    } else if (!strcmp(cmd, "poll") && n == 1) {
        otrl_message_poll(p->us, &ops, p);
        ev_begin("polled");
        ev_end();
    } else if (!strcmp(cmd, "bench") && n == 2) {
        run_bench(strtol(w[1], NULL, 10));
    } else if (!strcmp(cmd, "quit") && n == 1) {
        return 1;
    } else {
        emit_error("unknown command or wrong number of arguments: %s", cmd);
    }
    check_transitions(p);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: libotr_peer --account NAME --protocol PROTO --dir DIR\n"
            "                   [--policy default|always|manual|v2only] [--max-fragment N]\n"
            "       libotr_peer --bench ITERATIONS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *account = NULL, *protocol = "xmpp", *dir = NULL, *policy = "default";
    int mms = 0;
    long bench = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--account") && v) account = argv[++i];
        else if (!strcmp(a, "--protocol") && v) protocol = argv[++i];
        else if (!strcmp(a, "--dir") && v) dir = argv[++i];
        else if (!strcmp(a, "--policy") && v) policy = argv[++i];
        else if (!strcmp(a, "--max-fragment") && v) mms = atoi(argv[++i]);
        else if (!strcmp(a, "--bench") && v) bench = strtol(argv[++i], NULL, 10);
        else usage();
    }
    OTRL_INIT;
    init_ops();
    if (bench >= 0) return run_bench(bench) ? 1 : 0;
    if (!account || !dir) usage();

    OtrlPolicy pol;
    if (!strcmp(policy, "default")) pol = OTRL_POLICY_DEFAULT;
    else if (!strcmp(policy, "always")) pol = OTRL_POLICY_ALWAYS;
    else if (!strcmp(policy, "manual")) pol = OTRL_POLICY_MANUAL;
    else if (!strcmp(policy, "v2only"))
        pol = OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_SEND_WHITESPACE_TAG |
              OTRL_POLICY_WHITESPACE_START_AKE | OTRL_POLICY_ERROR_START_AKE;
    else usage();
    if (mms < 0) usage();

    static Peer peer;
    mkdir(dir, 0700);
    if (peer_open(&peer, dir, account, protocol, pol, mms, 0)) {
        emit_error("startup failed (see stderr)");
        return 1;
    }
    emit_own_fingerprint(&peer, "ready");

    Buf line = {0};
    for (;;) {
        /* Wait for input; when libotr asked for a timer, poll on expiry. */
        fd_set rf;
        FD_ZERO(&rf);
        FD_SET(0, &rf);
        struct timeval tv, *tvp = NULL;
        if (peer.timer_interval) {
            tv.tv_sec = peer.timer_interval;
            tv.tv_usec = 0;
            tvp = &tv;
        }
        int r = select(1, &rf, NULL, NULL, tvp);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (r == 0) {
            otrl_message_poll(peer.us, &ops, &peer);
            check_transitions(&peer);
            continue;
        }
        char chunk[65536];
        ssize_t got = read(0, chunk, sizeof chunk);
        if (got < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (got == 0) break;
        buf_add(&line, chunk, (size_t)got);
        /* Process every complete line in the buffer. */
        size_t start = 0;
        int quit = 0;
        for (size_t i = 0; i < line.len && !quit; i++) {
            if (line.p[i] == '\n') {
                line.p[i] = '\0';
                char *l = line.p + start;
                size_t ll = i - start;
                if (ll && l[ll - 1] == '\r') l[ll - 1] = '\0';
                quit = handle_line(&peer, l);
                start = i + 1;
            }
        }
        memmove(line.p, line.p + start, line.len - start);
        line.len -= start;
        if (line.p) line.p[line.len] = '\0';
        if (quit) break;
    }
    otrl_userstate_free(peer.us);
    return 0;
}
