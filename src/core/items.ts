// The item types runs record (mail messages, blocklist listings), named once for the kinds and their readers.
/**
 * Item types: what runs record that outlives them (RunItem.type). The kinds
 * that record them and the indicators and reports that read them share these
 * names, so no room spells them on its own.
 */

/** One per seed per run of a mail probe: the message sent, where it landed, its authentication. */
export const MAIL_MESSAGE_ITEM = 'mail.message';

/** A mail probe has at most this many seeds, so a run records at most this many MAIL_MESSAGE_ITEMs. */
export const MAX_MAIL_SEEDS = 15;

/** One per (address, zone) of a blocklist probe; its state is listed, clean or unknown. */
export const RBL_LISTING_ITEM = 'rbl-listing';

/** The state of a RBL_LISTING_ITEM while its address is on the list. */
export const LISTED = 'listed';
