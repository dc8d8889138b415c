/* See meridian_openssl_init.c. */
#ifndef MERIDIAN_OPENSSL_INIT_H
#define MERIDIAN_OPENSSL_INIT_H
/* 1 if OpenSSL was initialised without its exit-time cleanup (done before main). */
int meridian_openssl_initialised_without_atexit(void);
#endif
