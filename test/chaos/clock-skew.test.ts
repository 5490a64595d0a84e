/**
 * Chaos: a client whose clock is 20 minutes off (boto3 with its signing clock shifted, and the SDK's signer with a
 * signing date in the past and in the future) is refused with AWS's own words, which botocore recognises as clock
 * skew; the server's throttling of failures does not lock out the correct clients at the same address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { python } from '../helpers/clients.js';
import { signedFetch } from '../helpers/signed.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

void describe('chaos: client clock 20 minutes off', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
  });
  after(async () => srv?.stop());

  void it('is refused with "Signature expired" / "Signature not yet current"', async () => {
    const behind = await signedFetch(
      srv,
      '/v1/describejobqueues',
      {},
      { signingDate: new Date(Date.now() - 20 * 60_000) },
    );
    assert.equal(behind.status, 403, behind.text);
    assert.equal(behind.json.__type, 'InvalidSignatureException');
    assert.match(
      behind.json.message,
      /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/,
    );
    const ahead = await signedFetch(
      srv,
      '/v1/describejobqueues',
      {},
      { signingDate: new Date(Date.now() + 20 * 60_000) },
    );
    assert.equal(ahead.status, 403, ahead.text);
    assert.match(
      ahead.json.message,
      /^Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 15 min\.\)$/,
    );
  });

  void it('boto3 with a skewed clock gets the error botocore treats as clock skew; a correct client is still served', () => {
    const r = python(
      `
import datetime, json, boto3, botocore.auth
from botocore.exceptions import ClientError
real = botocore.auth.get_current_datetime
botocore.auth.get_current_datetime = lambda: real() - datetime.timedelta(minutes=20)
b = boto3.client('batch', config=botocore.config.Config(retries={'max_attempts': 1}))
out = {}
for i in range(30):   # far past the failure limit
    try:
        b.describe_job_queues()
        out['skewed'] = 'served'
    except ClientError as e:
        out['skewed'] = e.response['Error']
        out['status'] = e.response['ResponseMetadata']['HTTPStatusCode']
botocore.auth.get_current_datetime = real
out['fixed'] = len(b.describe_job_queues()['jobQueues'])
print(json.dumps(out))
`,
      srv.env,
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    // The last of 30: past the failure limit, the failures are throttled; the first ones say why.
    assert.match(out.skewed.Code, /^(InvalidSignatureException|ThrottlingException)$/);
    assert.match(out.skewed.Message, /Signature expired|clock of the client/);
    assert.equal(out.fixed, 0, 'once the clock is right, the same client is served at once');
  });
});
