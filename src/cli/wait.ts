/**
 * `openbatch wait ID...`: blocks until every job has finished, printing one line per job as it ends. Exit status 0
 * when all SUCCEEDED, else that of the first job (in argument order) that did not (job-follow.ts).
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { batchClient, clientErrorMessage, withClientOptions, type ClientOptions } from './client.js';
import { describeEnd, EXIT_USAGE, exitStatusOf, followJobs } from './job-follow.js';
import { exitQuietlyOnClosedPipe, painter, stateColour } from './terminal.js';

interface WaitOptions extends ClientOptions {
  pollMs: string;
  quiet?: boolean;
}

export function registerWait(program: Command): void {
  withClientOptions(
    program
      .command('wait')
      .description('wait for jobs to finish; exit 0 if all succeeded, else the status of the first that did not')
      .argument('<jobId...>', 'job ids (array parents and children too)')
      .option('--quiet', 'print nothing, only set the exit status')
      .addOption(new Option('--poll-ms <ms>', 'how often to ask (milliseconds)').default('1000').hideHelp()),
  ).action(async (ids: string[], o: WaitOptions) => {
    exitQuietlyOnClosedPipe();
    const paint = painter(process.stdout);
    try {
      const done = await followJobs(batchClient(o), ids, {
        pollMs: Number(o.pollMs) || 1000,
        onEnd: (j) => {
          if (!o.quiet) console.log(describeEnd(j).replace(j.status!, paint(stateColour(j.status), j.status!)));
        },
      });
      const firstBad = ids.map((id) => done.get(id)!).find((j) => j.status !== 'SUCCEEDED');
      process.exitCode = firstBad ? exitStatusOf(firstBad) : 0;
    } catch (err) {
      console.error(`openbatch wait: ${clientErrorMessage(err, o)}`);
      process.exitCode = EXIT_USAGE;
    }
  });
}
