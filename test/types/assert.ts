// Type-level assertions for the type tests. `expectType<Equal<A, B>>()` fails unless A and B are
// the same type (not merely assignable one way).
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

export function expectType<_ extends true>(): void {}
