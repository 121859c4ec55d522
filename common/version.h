/* version.h - the release both programs report with --version. */
#ifndef CHAT_VERSION_H
#define CHAT_VERSION_H

#define CHAT_VERSION "0.7.0"

#endif
