/**
 * The plain-text side of the simulated SMTP, IMAP4 and POP3 endpoints, in Exchange's words: the
 * greeting, the commands a client sends before (and instead of) logging in, and STARTTLS / STLS.
 * Nothing logs in and no mail is accepted. Pure: a dialog turns one line into one answer.
 */

/** What to do after writing an answer. */
export type Next = 'continue' | 'close' | 'start-tls';

export interface Answer {
  readonly text: string;
  readonly next: Next;
}

export interface Dialog {
  /** The first line the server sends (after the handshake on implicit-TLS ports). */
  greeting(): string;
  /** Whether the line asks to start TLS: the certificate is chosen then, before the answer. */
  startsTls(line: string): boolean;
  /** The answer to one line, given whether TLS runs and whether a certificate can be offered. */
  answer(line: string, state: { readonly secure: boolean; readonly tlsAvailable: boolean }): Answer;
}

const say = (text: string, next: Next = 'continue'): Answer => ({ text: `${text}\r\n`, next });

const verbOf = (line: string, index = 0): string => line.trim().split(/\s+/)[index]?.toUpperCase() ?? '';

/** SMTP as Exchange's receive connectors speak it; `fqdn` is what the connector announces. */
export function smtpDialog(fqdn: string, now: () => Date): Dialog {
  let greeted = false;
  return {
    greeting: () => `220 ${fqdn} Microsoft ESMTP MAIL Service ready at ${now().toUTCString().replace('GMT', '+0000')}\r\n`,
    startsTls: (line) => verbOf(line) === 'STARTTLS',
    answer: (line, { secure, tlsAvailable }) => {
      switch (verbOf(line)) {
        case 'EHLO': {
          greeted = true;
          const extensions = ['SIZE 37748736', 'PIPELINING', 'DSN', 'ENHANCEDSTATUSCODES', ...(secure || !tlsAvailable ? [] : ['STARTTLS']), '8BITMIME', 'BINARYMIME', 'CHUNKING', 'SMTPUTF8'];
          return say([`${fqdn} Hello [127.0.0.1]`, ...extensions].map((text, index, all) => `250${index === all.length - 1 ? ' ' : '-'}${text}`).join('\r\n'));
        }
        case 'HELO':
          greeted = true;
          return say(`250 ${fqdn} Hello [127.0.0.1]`);
        case 'STARTTLS':
          if (!greeted) return say('503 5.5.2 Send hello first');
          if (secure) return say('503 5.5.1 TLS already active');
          if (!tlsAvailable) return say('454 4.7.0 TLS not available due to temporary reason');
          // After TLS the client says hello again (RFC 3207).
          greeted = false;
          return say('220 2.0.0 SMTP server ready', 'start-tls');
        case 'NOOP':
          return say('250 2.0.0 OK');
        case 'RSET':
          return say('250 2.0.0 Resetting');
        case 'QUIT':
          return say('221 2.0.0 Service closing transmission channel', 'close');
        default:
          return say('500 5.3.3 Unrecognized command');
      }
    },
  };
}

/** IMAP4 as Exchange's IMAP4 service speaks it before login. */
export function imapDialog(): Dialog {
  return {
    greeting: () => '* OK The Microsoft Exchange IMAP4 service is ready.\r\n',
    startsTls: (line) => verbOf(line, 1) === 'STARTTLS',
    answer: (line, { secure, tlsAvailable }) => {
      const tag = line.trim().split(/\s+/)[0] ?? '';
      if (tag === '' || verbOf(line, 1) === '') return say('* BAD Command Error. 10');
      switch (verbOf(line, 1)) {
        case 'CAPABILITY':
          return say(`* CAPABILITY IMAP4 IMAP4rev1 AUTH=NTLM AUTH=GSSAPI AUTH=PLAIN${secure || !tlsAvailable ? '' : ' STARTTLS'} UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+\r\n${tag} OK CAPABILITY completed.`);
        case 'STARTTLS':
          if (secure || !tlsAvailable) return say(`${tag} BAD Command received in Invalid state.`);
          return say(`${tag} OK Begin TLS negotiation now.`, 'start-tls');
        case 'NOOP':
          return say(`${tag} OK NOOP completed.`);
        case 'LOGOUT':
          return say(`* BYE Microsoft Exchange Server IMAP4 server signing off.\r\n${tag} OK LOGOUT completed.`, 'close');
        default:
          return say(`${tag} BAD Command Error. 12`);
      }
    },
  };
}

/** POP3 as Exchange's POP3 service speaks it before login. */
export function pop3Dialog(): Dialog {
  return {
    greeting: () => '+OK The Microsoft Exchange POP3 service is ready.\r\n',
    startsTls: (line) => verbOf(line) === 'STLS',
    answer: (line, { secure, tlsAvailable }) => {
      switch (verbOf(line)) {
        case 'CAPA':
          return say(['+OK', 'TOP', 'UIDL', 'SASL NTLM GSSAPI PLAIN', 'USER', ...(secure || !tlsAvailable ? [] : ['STLS']), '.'].join('\r\n'));
        case 'STLS':
          if (secure || !tlsAvailable) return say('-ERR Command is not valid in this state.');
          return say('+OK Begin TLS negotiation.', 'start-tls');
        case 'NOOP':
          return say('+OK');
        case 'QUIT':
          return say('+OK Microsoft Exchange Server POP3 server signing off.', 'close');
        default:
          return say('-ERR Protocol error. 14');
      }
    },
  };
}
