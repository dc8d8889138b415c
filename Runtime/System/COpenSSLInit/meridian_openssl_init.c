/* OpenSSL's libcrypto, initialised before main without its exit-time cleanup.
 *
 * By default the first OpenSSL call registers an atexit handler that frees the library's global
 * state. A Meridian process has many threads using OpenSSL (P2P sessions sealing frames, hashing,
 * HKDF); when the main thread exits while one of them is inside an EVP call, that thread reads
 * freed locks and the process dies with SIGSEGV on its way out (seen: a test process that had
 * passed every test crashed in pthread_rwlock_rdlock under EVP_EncryptInit_ex for AES-256-GCM).
 * OPENSSL_INIT_NO_ATEXIT leaves the state to the operating system, which reclaims it at exit.
 *
 * It only takes effect in the first initialisation of the process, so it runs as a constructor,
 * before main and before any Swift code. This is C because Swift has no load-time constructors. */
#include <openssl/crypto.h>
#include "meridian_openssl_init.h"

static int initialised = 0;

__attribute__((constructor))
static void meridian_openssl_init(void) {
    initialised = OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL) == 1;
}

int meridian_openssl_initialised_without_atexit(void) { return initialised; }
