// Who started the lab, and so which users its servers run as.
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';

/**
 * Who starts the lab, and so who its servers run as. Started by root, Dovecot
 * and rbldnsd drop to their own unprivileged users (Dovecot refuses root for
 * logins and mail access); started by anyone else, every server runs as that
 * user, since only root can switch users.
 */
export interface LabIdentity {
  root: boolean;
  user: string;
  group: string;
  uid: number;
  gid: number;
}

export function labIdentity(): LabIdentity {
  const { uid, gid, username } = userInfo();
  // Node has no group lookup; Dovecot's settings want the name.
  const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
  return { root: uid === 0, user: username, group, uid, gid };
}
