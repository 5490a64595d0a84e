/** Output rules shared by the researcher commands: data on stdout, colour only on a terminal and never with NO_COLOR. */

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, dim: 2, bold: 1 } as const;
export type Colour = keyof typeof CODES;

/** True when `stream` is a terminal and the user has not asked for plain output (NO_COLOR, TERM=dumb). */
export function wantsColour(stream: NodeJS.WriteStream): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && process.env.TERM !== 'dumb';
}

/** A painter that colours text for `stream`, or leaves it plain when colour is not wanted. */
export function painter(stream: NodeJS.WriteStream): (colour: Colour, text: string) => string {
  const on = wantsColour(stream);
  return (colour, text) => (on ? `\x1b[${CODES[colour]}m${text}\x1b[0m` : text);
}

/** The colour a job state is shown in. */
export function stateColour(status: string | undefined): Colour {
  switch (status) {
    case 'SUCCEEDED':
      return 'green';
    case 'FAILED':
      return 'red';
    case 'RUNNING':
      return 'cyan';
    case 'STARTING':
      return 'blue';
    case 'RUNNABLE':
      return 'yellow';
    default:
      return 'dim';
  }
}

/** Writes to stdout, waiting for the pipe to drain (so `| head` and slow readers work). */
export async function writeOut(text: string): Promise<void> {
  if (text !== '' && !process.stdout.write(text)) await new Promise((r) => process.stdout.once('drain', r));
}

/** A reader that closed the pipe (`| head`) is not an error: stop quietly. */
export function exitQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}
