import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Vitest's own order, but the image kit's test last: the kit builds in the background from the start of the
 * run (global-setup.ts), so by then it is there, and the other files do not wait for it.
 */
export class KitLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const last = (file: TestSpecification) => (file.moduleId.endsWith('/kit.test.ts') ? 1 : 0);
    return [...sorted].sort((a, b) => last(a) - last(b));
  }
}
