/**
 * The soak's kinds of traffic. Their order is a kind's index in an app's summary (`ops`), which
 * soak-app.ts writes and soak.ts reads; a module of its own because soak-app.ts is a script that
 * runs when imported.
 */
export const SOAK_KINDS = ['pg', 'redis', 'smtp', 'mysql'] as const;
export type SoakKind = (typeof SOAK_KINDS)[number];
