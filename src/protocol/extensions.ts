/**
 * Signed extensions of the v1 message (docs/protocol.md, "Signed extensions").
 *
 * Why a second signature instead of adding the field to the canonical string: a v1 subscriber
 * released before the field existed strips it and rebuilds the nine-line canonical string; a
 * `sig` that covered the field would fail there, and every old subscriber would reject every new
 * message that carries it. So `sig` stays over the nine lines (old subscribers verify it and act
 * on the message as before), and `xsig` covers those nine lines plus one line per extension
 * field present. A subscriber that knows an extension acts on it only when `xsig` verifies;
 * changing, adding or dropping an extension field without the key breaks `xsig`.
 *
 * What an old subscriber does with an extension must always be safe: an extension may only ask
 * for *more* than the plain message (`terminateOld`: close old connections at once rather than
 * after their work), never change what the plain message means.
 */

/** The extension fields, in the order their lines follow the canonical string. */
export const EXTENSION_FIELDS = ['terminateOld'] as const;

export type ExtensionField = (typeof EXTENSION_FIELDS)[number];

/** The extension fields of a message; a field absent from the object is absent here. */
export type ExtensionValues = Partial<Record<ExtensionField, true>>;

/** True when the message carries an extension field (it then needs `xsig`). */
export function hasExtensions(message: ExtensionValues): boolean {
  return EXTENSION_FIELDS.some((field) => message[field] !== undefined);
}

/**
 * The lines `xsig` adds after the canonical string: `name=value` for each extension field
 * present, in {@link EXTENSION_FIELDS} order (`terminateOld=true`). Empty without extensions.
 */
export function extensionLines(message: ExtensionValues): string[] {
  return EXTENSION_FIELDS.filter((field) => message[field] !== undefined).map((field) => `${field}=${String(message[field])}`);
}
