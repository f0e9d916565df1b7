/** The version of this engine, the extension and the nitro-dev CLI (one number for all three). */
export const VERSION: string = __NITRO_VERSION__;
