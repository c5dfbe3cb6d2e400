import { GroupCommit } from './group-commit.js';

/** A commit that takes until released, recording each round it was given. */
function recordingCommit(failWhen: (items: string[]) => boolean = () => false) {
  const rounds: string[][] = [];
  const pending: (() => void)[] = [];
  const commit = (items: string[]) =>
    new Promise<void>((resolve, reject) => {
      rounds.push(items);
      pending.push(() => (failWhen(items) ? reject(new Error(`refused ${items.join(',')}`)) : resolve()));
    });
  const releaseAll = async () => {
    while (pending.length > 0) {
      pending.splice(0).forEach((release) => release());
      await new Promise((r) => setImmediate(r));
    }
  };
  return { rounds, commit, releaseAll };
}

describe('GroupCommit', () => {
  it('starts a round at once while there is room, and gathers what arrives meanwhile into the next rounds', async () => {
    const c = recordingCommit();
    const group = new GroupCommit(c.commit, { concurrency: 1, maxItems: 3 });
    const done = ['a', 'b', 'c', 'd', 'e', 'f'].map((x) => group.submit(x));
    expect(c.rounds).toEqual([['a']]); // no waiting when nothing else is committing
    await c.releaseAll();
    await Promise.all(done);
    expect(c.rounds).toEqual([['a'], ['b', 'c', 'd'], ['e', 'f']]);
  });

  it('runs rounds side by side up to its concurrency', async () => {
    const c = recordingCommit();
    const group = new GroupCommit(c.commit, { concurrency: 2, maxItems: 10 });
    const done = ['a', 'b', 'c', 'd'].map((x) => group.submit(x));
    expect(c.rounds).toEqual([['a'], ['b']]);
    await c.releaseAll();
    await Promise.all(done);
    expect(c.rounds).toEqual([['a'], ['b'], ['c', 'd']]);
  });

  it('fails only the caller whose item makes a round fail: the round is run again item by item', async () => {
    const c = recordingCommit((items) => items.includes('bad'));
    const group = new GroupCommit(c.commit, { concurrency: 1, maxItems: 10 });
    const first = group.submit('first');
    const outcomes = ['x', 'bad', 'y'].map((item) => group.submit(item).then(() => 'committed', (err: Error) => err.message));
    await c.releaseAll();
    await first;
    expect(await Promise.all(outcomes)).toEqual(['committed', 'refused bad', 'committed']);
    expect(c.rounds).toEqual([['first'], ['x', 'bad', 'y'], ['x'], ['bad'], ['y']]);
  });

  it('fails every caller of a round at once when the failure belongs to no item (alone says so)', async () => {
    const c = recordingCommit((items) => items.length > 1 || items[0] !== 'first');
    const group = new GroupCommit(c.commit, { concurrency: 1, maxItems: 10, alone: (err) => !String(err).includes('refused') });
    const first = group.submit('first');
    const outcomes = ['x', 'y'].map((item) => group.submit(item).then(() => 'committed', (err: Error) => err.message));
    await c.releaseAll();
    await first;
    expect(await Promise.all(outcomes)).toEqual(['refused x,y', 'refused x,y']);
    expect(c.rounds).toEqual([['first'], ['x', 'y']]); // not run again item by item
  });
});
