// The lab's Dovecot: IMAP mailboxes for the seed users and local delivery into their folders.
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startProcess, waitForPort, type ManagedProcess } from './processes.ts';
import { labIdentity, type LabIdentity } from './identity.ts';

/** The lab's seed users (user -> password); tests add more. */
export const LAB_SEED_USERS: Record<string, string> = {
  alice: 'alicepw',
  bob: 'bobpw',
  carol: 'carolpw',
  dave: 'davepw',
};

const LDA = '/usr/lib/dovecot/dovecot-lda';
const NOBODY_UID = 65534;
const NOGROUP_GID = 65534;

export interface RunningDovecot {
  port: number;
  conf: string;
  process: ManagedProcess;
  /** Stores a message for `user` in `folder` through dovecot-lda (synchronous: resolved = stored). */
  deliver: (user: string, folder: string, message: Buffer, envelopeFrom: string) => Promise<void>;
  stop(): Promise<void>;
}

/**
 * Who Dovecot's processes run as. As root: its own users (auth as dovecot, logins as dovenull in a
 * chroot, mail as nobody). As anyone else: every process as that user, without chroots (only root
 * can switch users or chroot).
 */
function userSettings(identity: LabIdentity): { users: string; loginChroot: string } {
  if (identity.root) return { users: 'mail_uid = nobody\nmail_gid = nogroup', loginChroot: '' };
  const users = [
    `mail_uid = ${identity.uid}`,
    `mail_gid = ${identity.gid}`,
    `default_internal_user = ${identity.user}`,
    `default_internal_group = ${identity.group}`,
    `default_login_user = ${identity.user}`,
    'service anvil {\n  chroot =\n}',
  ];
  return { users: users.join('\n'), loginChroot: '\n  chroot =' };
}

/** The lab recipe (lab-recipes/dovecot) with this instance's directory, port and users; with `tls`, STARTTLS is offered (not required). */
function templateConfig(dir: string, port: number, tls: boolean, identity: LabIdentity): string {
  const ssl = tls
    ? `ssl = yes\nssl_cert = <${dir}/dovecot/tls-cert.pem\nssl_key = <${dir}/dovecot/tls-key.pem`
    : 'ssl = no';
  const { users, loginChroot } = userSettings(identity);
  return DOVECOT_CONF.replaceAll('LAB_DIR', dir)
    .replace('port = 10143', `port = ${port}`)
    .replace('ssl = no', ssl)
    .replace('MAIL_USERS', users)
    .replace('service imap-login {', `service imap-login {${loginChroot}`);
}

/**
 * Starts a private Dovecot on 127.0.0.1:`port` with its data under `dir`/dovecot and `dir`/mail;
 * with `tls` (PEM key and certificate) it offers STARTTLS, as a provider's IMAP on 143 does.
 */
export async function startDovecot(options: {
  dir: string;
  port: number;
  users?: Record<string, string>;
  tls?: { key: string; cert: string };
}): Promise<RunningDovecot> {
  const base = join(options.dir, 'dovecot');
  const mail = join(options.dir, 'mail');
  await mkdir(join(base, 'run'), { recursive: true });
  await mkdir(join(base, 'state'), { recursive: true });
  await mkdir(mail, { recursive: true });
  const identity = labIdentity();
  if (identity.root) {
    // Dovecot's auth process (user dovecot) and mail processes (nobody) must reach into the (mkdtemp 0700) directory.
    await chmod(options.dir, 0o755);
    // Dovecot refuses uid 0 for mail access: the mail lives as nobody.
    await chown(mail, NOBODY_UID, NOGROUP_GID);
  }
  const conf = join(base, 'dovecot.conf');
  if (options.tls) {
    await writeFile(join(base, 'tls-cert.pem'), options.tls.cert);
    await writeFile(join(base, 'tls-key.pem'), options.tls.key, { mode: 0o600 });
  }
  await writeFile(conf, templateConfig(options.dir, options.port, Boolean(options.tls), identity));
  const users = options.users ?? LAB_SEED_USERS;
  await writeFile(
    join(base, 'users'),
    Object.entries(users)
      .map(([user, pass]) => `${user}:{PLAIN}${pass}\n`)
      .join(''),
  );
  const proc = startProcess({ name: 'dovecot', command: 'dovecot', args: ['-F', '-c', conf] });
  try {
    await waitForPort(options.port, '127.0.0.1', 10_000, proc);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return {
    port: options.port,
    conf,
    process: proc,
    deliver: (user, folder, message, envelopeFrom) => runLda(conf, user, folder, message, envelopeFrom),
    stop: () => proc.stop(),
  };
}

function runLda(conf: string, user: string, folder: string, message: Buffer, envelopeFrom: string): Promise<void> {
  const args = ['-c', conf, '-d', user, '-f', envelopeFrom || 'MAILER-DAEMON'];
  if (folder !== 'INBOX') args.push('-m', folder);
  return new Promise((resolve, reject) => {
    const child = spawn(LDA, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      // 67 = EX_NOUSER: the ingress answers 550 for it.
      else reject(Object.assign(new Error(`dovecot-lda exited ${code}: ${stderr.trim()}`), { exitCode: code }));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(message);
  });
}

// Copied from lab-recipes/dovecot/dovecot.conf so the repository starts it on its own (plus the imap-login tuning below).
const DOVECOT_CONF = `instance_name = lab-dovecot
base_dir  = LAB_DIR/dovecot/run
state_dir = LAB_DIR/dovecot/state
log_path  = LAB_DIR/dovecot/dovecot.log
info_log_path = LAB_DIR/dovecot/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:LAB_DIR/mail/%u
MAIL_USERS
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u LAB_DIR/dovecot/users
}
userdb {
  driver = static
  args = home=LAB_DIR/mail/%u
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
}
# High-performance login mode (doc.dovecot.org, "Login processes"), as providers run it. The default
# starts a fresh imap-login process for every connection: 30 logins at once took 680-900 ms here (2 cores,
# busy host); with two long-lived login processes 290-540 ms.
service imap-login {
  service_count = 0
  process_min_avail = 2
  inet_listener imap {
    address = 127.0.0.1
    port = 10143
  }
  inet_listener imaps {
    port = 0
  }
}
service doveadm {
  inet_listener {
    port = 0
  }
}
service auth {
  unix_listener auth-userdb {
    mode = 0666
  }
}
mailbox_idle_check_interval = 1 secs
# Each probe keeps a connection per watched folder; the default of 10 per user and IP is soon reached.
protocol imap {
  mail_max_userip_connections = 100
}
`;
