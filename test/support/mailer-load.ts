import type { RotatingMailer } from '../../src/sdk/mailer/mailer-client.js';
import { startLoadLoop, type LoadLoop } from './load-loop.js';

/** `loops` concurrent sendMail loops until `stop()`; a rejected send is counted, never thrown. */
export function startSendLoad(mailer: RotatingMailer, loops = 3, tag = 'load'): LoadLoop {
  return startLoadLoop(
    (id, i) => mailer.sendMail({ from: 'app@example.test', to: `user${id}@example.test`, subject: `${tag} ${id}-${i}`, text: 'hello' }),
    loops,
  );
}
