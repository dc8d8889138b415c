/* Meridian's view of OpenSSL's libcrypto.
 *
 * The low-level SHA-256 interface is deprecated in OpenSSL 3 in favour of EVP, but the EVP path
 * fetches the algorithm and allocates a context per call, which costs several times the hash of a
 * 64-byte Merkle node. The state tree hashes millions of such nodes, so we keep the direct path
 * here, in one place, with the deprecation silenced for this header only.
 *
 * HKDF and AES-256-GCM need OSSL_PARAM arrays and control calls that are clumsy to build from
 * Swift; these small inline helpers check every return code and report 1 for success, 0 for
 * failure. The Swift wrappers in MeridianCore turn that into typed errors. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <string.h>

static inline void meridian_sha256(const void *data, size_t length, unsigned char *out32) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, length);
    SHA256_Final(out32, &ctx);
}

static inline void meridian_sha256_init(SHA256_CTX *ctx) { SHA256_Init(ctx); }
static inline void meridian_sha256_update(SHA256_CTX *ctx, const void *data, size_t length) {
    SHA256_Update(ctx, data, length);
}
static inline void meridian_sha256_final(SHA256_CTX *ctx, unsigned char *out32) { SHA256_Final(out32, ctx); }

/* RFC 5869 HKDF with SHA-256 (extract then expand). */
static inline int meridian_hkdf_sha256(const unsigned char *salt, size_t salt_len,
                                       const unsigned char *ikm, size_t ikm_len,
                                       const unsigned char *info, size_t info_len,
                                       unsigned char *out, size_t out_len) {
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kdf == NULL) return 0;
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (kctx == NULL) return 0;
    OSSL_PARAM params[5];
    OSSL_PARAM *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *p = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(kctx, out, out_len, params) == 1;
    EVP_KDF_CTX_free(kctx);
    return ok;
}

/* AES-256-GCM with a 96-bit nonce and a 128-bit tag. */
static inline int meridian_aes256gcm_seal(const unsigned char *key32, const unsigned char *nonce12,
                                          const unsigned char *aad, size_t aad_len,
                                          const unsigned char *plaintext, size_t length,
                                          unsigned char *ciphertext, unsigned char *tag16) {
    if (length > (size_t)0x7fffffff || aad_len > (size_t)0x7fffffff) return 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) return 0;
    int ok = 1, outl = 0;
    ok = ok && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1;
    ok = ok && EVP_EncryptInit_ex(ctx, NULL, NULL, key32, nonce12) == 1;
    if (ok && aad_len > 0) ok = EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1;
    if (ok && length > 0) ok = EVP_EncryptUpdate(ctx, ciphertext, &outl, plaintext, (int)length) == 1;
    ok = ok && EVP_EncryptFinal_ex(ctx, ciphertext + outl, &outl) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag16) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

static inline int meridian_aes256gcm_open(const unsigned char *key32, const unsigned char *nonce12,
                                          const unsigned char *aad, size_t aad_len,
                                          const unsigned char *ciphertext, size_t length,
                                          const unsigned char *tag16, unsigned char *plaintext) {
    if (length > (size_t)0x7fffffff || aad_len > (size_t)0x7fffffff) return 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) return 0;
    int ok = 1, outl = 0;
    unsigned char tag[16];
    memcpy(tag, tag16, 16);
    ok = ok && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1;
    ok = ok && EVP_DecryptInit_ex(ctx, NULL, NULL, key32, nonce12) == 1;
    if (ok && aad_len > 0) ok = EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1;
    if (ok && length > 0) ok = EVP_DecryptUpdate(ctx, plaintext, &outl, ciphertext, (int)length) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
    ok = ok && EVP_DecryptFinal_ex(ctx, plaintext + outl, &outl) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/* RFC 7914 scrypt, for the wallet's keystore. */
static inline int meridian_scrypt(const char *pass, size_t pass_len, const unsigned char *salt, size_t salt_len,
                                  uint64_t n, uint64_t r, uint64_t p, unsigned char *out, size_t out_len) {
    return EVP_PBE_scrypt(pass, pass_len, salt, salt_len, n, r, p, 1024ull * 1024ull * 1024ull, out, out_len) == 1;
}

static inline int meridian_random_bytes(unsigned char *out, size_t length) {
    if (length > (size_t)0x7fffffff) return 0;
    return RAND_bytes(out, (int)length) == 1;
}

static inline void meridian_cleanse(void *ptr, size_t length) { OPENSSL_cleanse(ptr, length); }

#include <openssl/hmac.h>

/* PBKDF2-HMAC-SHA512 (BIP-39 seeds). */
static inline int meridian_pbkdf2_sha512(const char *pass, size_t pass_len, const unsigned char *salt, size_t salt_len,
                                         int iterations, unsigned char *out, size_t out_len) {
    if (pass_len > 0x7fffffff || salt_len > 0x7fffffff || out_len > 0x7fffffff) return 0;
    return PKCS5_PBKDF2_HMAC(pass, (int)pass_len, salt, (int)salt_len, iterations, EVP_sha512(), (int)out_len, out) == 1;
}

/* HMAC-SHA512 (master key from a BIP-39 seed). */
static inline int meridian_hmac_sha512(const unsigned char *key, size_t key_len, const unsigned char *data, size_t data_len,
                                       unsigned char *out64) {
    unsigned int len = 0;
    if (key_len > 0x7fffffff) return 0;
    return HMAC(EVP_sha512(), key, (int)key_len, data, data_len, out64, &len) != NULL && len == 64;
}
