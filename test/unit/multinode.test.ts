/** Node ranges and node overrides of multi-node parallel jobs (core/multinode.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkNodeProperties, parseNodeId, parseRange, resolveNodes } from '../../src/core/multinode.js';

const c = (cmd: string) => ({ image: 'i', command: [cmd], vcpus: 1, memory: 64 });

describe('multi-node node ranges', () => {
  it('reads AWS range forms against the node count', () => {
    assert.deepEqual(parseRange('0:3', 5, 'r'), [0, 3]);
    assert.deepEqual(parseRange('2:', 5, 'r'), [2, 4]);
    assert.deepEqual(parseRange(':2', 5, 'r'), [0, 2]);
    assert.deepEqual(parseRange('4', 5, 'r'), [4, 4]);
    assert.throws(() => parseRange('0:5', 5, 'r'), /outside the job's 5 nodes/);
    assert.throws(() => parseRange('3:1', 5, 'r'), /lower to a higher/);
    assert.throws(() => parseRange('a-b', 5, 'r'), /is not a node range/);
  });

  it('gives nested ranges the narrower range, applies overrides, folds equal nodes back into ranges', () => {
    const np = {
      numNodes: 4,
      mainNode: 0,
      nodeRangeProperties: [
        { targetNodes: '0:', container: c('worker') },
        { targetNodes: '0', container: c('main') },
      ],
    };
    const { nodeProperties, nodes } = resolveNodes(
      np,
      { numNodes: 5, nodePropertyOverrides: [{ targetNodes: '4', containerOverrides: { command: ['last'] } }] },
      'jd:1',
    );
    assert.deepEqual(
      nodes.map((n) => n.containerProperties.command),
      [['main'], ['worker'], ['worker'], ['worker'], ['last']],
    );
    assert.deepEqual(
      nodeProperties.nodeRangeProperties.map((r) => [r.targetNodes, r.container?.command]),
      [
        ['0:0', ['main']],
        ['1:3', ['worker']],
        ['4:4', ['last']],
      ],
    );
    assert.equal(nodeProperties.numNodes, 5);
  });

  it('refuses ranges that leave a node out, a main node outside the job, and names the field', () => {
    assert.throws(
      () =>
        checkNodeProperties({
          numNodes: 3,
          mainNode: 0,
          nodeRangeProperties: [{ targetNodes: '0:1', container: c('x') }],
        }),
      /nodeProperties.nodeRangeProperties cover no range for node\(s\) 2 of 3/,
    );
    assert.throws(
      () =>
        checkNodeProperties({
          numNodes: 2,
          mainNode: 2,
          nodeRangeProperties: [{ targetNodes: '0:', container: c('x') }],
        }),
      /nodeProperties.mainNode must be a node index below numNodes \(2\)/,
    );
    assert.throws(
      () =>
        resolveNodes(
          { numNodes: 3, mainNode: 2, nodeRangeProperties: [{ targetNodes: '0:', container: c('x') }] },
          { numNodes: 2 },
          'jd:1',
        ),
      /leaves out the main node 2/,
    );
    assert.deepEqual(parseNodeId('abc#12'), { parentId: 'abc', node: 12 });
    assert.equal(parseNodeId('abc:12'), undefined);
  });
});
