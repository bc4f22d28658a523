# The lab receiver's verifier: DKIM and ARC by dkimpy, SPF by pyspf, over the lab's own DNS.
# It shares no code with scaiprobe's own verdict (mailauth), so that a bug in one cannot hide
# itself by agreeing with the other. One process serves the lab: it prints "ready", then reads
# requests from stdin, each a JSON line {dnsPort, authservId, ip, helo, mailFrom, length}
# followed by the message's `length` bytes, and answers each with a JSON line
# {"header": "Authentication-Results: ..."} or {"error": "..."}.
import json
import re
import sys

import dkim
import dns.exception
import dns.resolver
import spf

MAX_SIGNATURES = 10


def make_resolver(port):
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ['127.0.0.1']
    resolver.port = port
    resolver.lifetime = 3.0
    return resolver


def txt_lookup(resolver):
    # dkimpy's dnsfunc: the TXT strings of one record joined, or None when there is none.
    def lookup(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode('ascii', 'replace')
        try:
            answer = resolver.resolve(name, 'TXT')
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        for rdata in answer:
            return b''.join(rdata.strings)
        return None

    return lookup


def header_from_domain(message):
    head = re.split(rb'\r?\n\r?\n', message, maxsplit=1)[0]
    unfolded = re.sub(rb'\r?\n[ \t]+', b' ', head)
    match = re.search(rb'^from:(.*)$', unfolded, re.IGNORECASE | re.MULTILINE)
    if not match:
        return ''
    address = re.search(rb'@([A-Za-z0-9.-]+)', match.group(1))
    return address.group(1).decode('ascii').lower() if address else ''


def dkim_results(message, lookup):
    # One result per signature, topmost first, with why it failed.
    signer = dkim.DKIM(message, minkey=1024)
    count = len([1 for name, _ in signer.headers if name.lower() == b'dkim-signature'])
    results = []
    for index in range(min(count, MAX_SIGNATURES)):
        reason = ''
        try:
            ok = signer.verify(idx=index, dnsfunc=lookup)
            result = 'pass' if ok else 'fail'
            reason = '' if ok else 'signature did not verify'
        except dkim.ValidationError as error:
            result, reason = 'fail', str(error).split(' (')[0]
        except dns.exception.DNSException as error:
            result, reason = 'temperror', type(error).__name__
        except dkim.DKIMException as error:
            result, reason = 'permerror', str(error)
        domain = (signer.domain or b'').decode('ascii', 'replace').lower()
        selector = (signer.selector or b'').decode('ascii', 'replace')
        results.append({'result': result, 'reason': reason, 'd': domain, 's': selector,
                        'a': (signer.signature_fields or {}).get(b'a', b'').decode('ascii', 'replace'),
                        'bits': signer.keysize})
    return results


def arc_result(message, lookup):
    if not re.search(rb'^arc-seal:', message, re.IGNORECASE | re.MULTILINE):
        return 'none'
    cv, _, _ = dkim.arc_verify(message, dnsfunc=lookup)
    return cv.decode('ascii').lower()


def spf_result(ip, mail_from, helo):
    if not ip:
        return 'none', ''
    sender = mail_from or 'postmaster@' + helo
    result, _ = spf.check2(i=ip, s=sender, h=helo or ip, timeout=3, querytime=5)
    return result, sender.split('@')[-1].lower()


def org_domain(domain):
    # The lab's names are all under .test, which the Public Suffix List does not list:
    # the organizational domain is the last two labels.
    return '.'.join(domain.split('.')[-2:])


def aligned(a, b, strict):
    if not a or not b:
        return False
    return a == b if strict else org_domain(a) == org_domain(b)


def dmarc_record(resolver, domain):
    for name in dict.fromkeys([domain, org_domain(domain)]):
        try:
            answer = resolver.resolve('_dmarc.' + name, 'TXT')
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            continue
        except dns.exception.DNSException:
            return 'temperror', False
        for rdata in answer:
            text = b''.join(rdata.strings).decode('ascii', 'replace')
            if text.startswith('v=DMARC1'):
                tags = dict(part.strip().split('=', 1) for part in text.split(';') if '=' in part)
                return {k.strip(): v.strip() for k, v in tags.items()}, name != domain
    return None, False


def dmarc_result(resolver, from_domain, dkims, spf_pass_domain):
    record, inherited = dmarc_record(resolver, from_domain)
    if record == 'temperror':
        return 'temperror', 'none'
    if record is None:
        return 'none', 'none'
    policy = record.get('sp' if inherited else 'p', record.get('p', 'none')).lower()
    dkim_ok = any(r['result'] == 'pass' and aligned(r['d'], from_domain, record.get('adkim') == 's') for r in dkims)
    spf_ok = aligned(spf_pass_domain, from_domain, record.get('aspf') == 's')
    return ('pass' if dkim_ok or spf_ok else 'fail'), policy


def header(args, dkims, spf_pair, arc, dmarc, from_domain):
    authserv = args['authservId']
    spf_res, spf_domain = spf_pair
    lines = ['spf=%s (sender IP is %s) smtp.mailfrom=%s smtp.helo=%s'
             % (spf_res, args.get('ip') or 'unknown', spf_domain or 'unknown', args.get('helo') or 'unknown')]
    for r in dkims:
        comment = '%d-bit key' % r['bits'] if r['bits'] else 'no key'
        if r['reason']:
            comment += '; ' + r['reason']
        lines.append('dkim=%s (%s) header.d=%s header.s=%s header.a=%s'
                     % (r['result'], comment, r['d'], r['s'], r['a']))
    if not dkims:
        lines.append('dkim=none (message not signed)')
    lines.append('arc=%s' % arc)
    lines.append('dmarc=%s (p=%s dis=NONE) header.from=%s' % (dmarc[0], dmarc[1].upper(), from_domain or 'unknown'))
    return 'Authentication-Results: %s;\r\n\t%s\r\n' % (authserv, ';\r\n\t'.join(lines))


def verify(args, message):
    resolver = make_resolver(int(args['dnsPort']))
    # pyspf asks dnspython's default resolver: make it the lab's.
    dns.resolver.default_resolver = resolver
    lookup = txt_lookup(resolver)
    dkims = dkim_results(message, lookup)
    spf_pair = spf_result(args.get('ip'), args.get('mailFrom'), args.get('helo'))
    from_domain = header_from_domain(message)
    spf_pass_domain = spf_pair[1] if spf_pair[0] == 'pass' else ''
    dmarc = dmarc_result(resolver, from_domain, dkims, spf_pass_domain) if from_domain else ('none', 'none')
    return header(args, dkims, spf_pair, arc_result(message, lookup), dmarc, from_domain)


def main():
    requests, replies = sys.stdin.buffer, sys.stdout
    replies.write('ready\n')
    replies.flush()
    for line in iter(requests.readline, b''):
        args = json.loads(line)
        message = requests.read(int(args['length']))
        try:
            reply = {'header': verify(args, message)}
        except Exception as error:  # one message's failure is its answer, the process serves on
            reply = {'error': '%s: %s' % (type(error).__name__, error)}
        replies.write(json.dumps(reply) + '\n')
        replies.flush()


main()
