// What each leading indicator means and what to do about it, in words a tenant understands.
/** What each leading indicator means and what to do, for people who are not deliverability engineers. */
const GUIDANCE: Array<{ match: RegExp; meaning: string; action: string }> = [
  {
    match: /spam|junk/i,
    meaning:
      'Seed mailboxes are filing your probe mail as spam: mailbox providers trust the sending domain or IP less.',
    action:
      'Check recent content and list changes, authentication, and blocklists; slow down sending to cold addresses.',
  },
  {
    match: /missing|not.?delivered/i,
    meaning: 'Probe mail did not arrive at all: it was blocked or is being deferred before the inbox.',
    action: 'Look for deferrals and blocks in the send logs and check the sending IPs on blocklists.',
  },
  {
    match: /time.?to.?inbox|latency|delay/i,
    meaning: 'Mail takes longer to reach the inbox: providers are throttling or queues are backing up.',
    action: 'Check queue depth and deferral reasons; reduce the sending rate to the slow provider.',
  },
  {
    match: /auth|spf|dkim|dmarc/i,
    meaning: 'Seeds see authentication failures: mail may be rejected or junked and DMARC reports will show it.',
    action: 'Compare the SPF, DKIM and DMARC records with the sending setup (see the DNS section).',
  },
  {
    match: /rbl|blocklist|listing/i,
    meaning: 'A sending IP or domain is on a blocklist: providers that use it will reject or junk mail.',
    action: 'Find the cause (compromised account, bad list), fix it, then request delisting from the list operator.',
  },
  {
    match: /defer/i,
    meaning: 'Receivers are deferring mail: the usual first sign of throttling for reputation.',
    action: 'Slow down to the affected providers and look at bounce and complaint rates.',
  },
  {
    match: /bounce/i,
    meaning: 'Too many messages bounce: the list holds invalid addresses, which providers read as poor list hygiene.',
    action: 'Remove hard-bounced addresses and confirm new sign-ups; stay under 2 %.',
  },
  {
    match: /complaint|spam.?report/i,
    meaning: 'Recipients mark the mail as spam: the strongest negative signal to providers.',
    action: 'Send only to people who asked for it, make unsubscribing easy; stay under 0.1 %.',
  },
];

export function guidanceFor(name: string): { meaning: string; action: string } {
  const found = GUIDANCE.find((entry) => entry.match.test(name));
  return found
    ? { meaning: found.meaning, action: found.action }
    : { meaning: 'A leading indicator computed from the probes.', action: 'See the indicator reason for details.' };
}
