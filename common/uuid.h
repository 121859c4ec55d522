/* uuid.h - the size of a UUID as both programs hold it: the canonical
 * text 8-4-4-4-12 (lowercase once proto_uuid has checked it). */
#ifndef CHAT_UUID_H
#define CHAT_UUID_H

#define UUID_LEN  36
#define UUID_SIZE (UUID_LEN + 1) /* a buffer for one, with its NUL */

#endif
