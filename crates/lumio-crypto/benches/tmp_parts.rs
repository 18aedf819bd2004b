use std::hint::black_box;
use criterion::{criterion_group, criterion_main, Criterion};
use aes_gcm::{Aes256Gcm, KeyInit, AesGcm};
use aes_gcm::aead::consts::U12;
fn parts(c: &mut Criterion) {
    let key = [7u8; 32];
    c.bench_function("aes256gcm_new", |b| b.iter(|| Aes256Gcm::new(black_box(&key).into())));
    c.bench_function("aes256enc_gcm_new", |b| b.iter(|| AesGcm::<aes::Aes256Enc, U12>::new(black_box(&key).into())));
    c.bench_function("vec_alloc_64", |b| b.iter(|| black_box(vec![0u8; 64])));
    let mut buf = [0u8; 56];
    c.bench_function("getrandom_56", |b| b.iter(|| getrandom::getrandom(black_box(&mut buf)).unwrap()));
}
criterion_group!(benches, parts);
criterion_main!(benches, benches2);
fn ring_parts(c: &mut Criterion) {
    use ring::aead::{LessSafeKey, UnboundKey, AES_256_GCM, Nonce, Aad};
    let key = [7u8; 32];
    c.bench_function("ring_key_new", |b| b.iter(|| LessSafeKey::new(UnboundKey::new(&AES_256_GCM, black_box(&key)).unwrap())));
    let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).unwrap());
    let mut data = vec![1u8; 64];
    let tag = k.seal_in_place_separate_tag(Nonce::assume_unique_for_key([0; 12]), Aad::from(b"aad"), &mut data).unwrap();
    let mut ct = data.clone(); ct.extend_from_slice(tag.as_ref());
    c.bench_function("ring_open_64_with_keysetup", |b| b.iter(|| {
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, black_box(&key)).unwrap());
        let mut buf = ct.clone();
        k.open_in_place(Nonce::assume_unique_for_key([0; 12]), Aad::from(b"aad"), &mut buf).unwrap().len()
    }));
    let gk = AesGcm::<aes::Aes256Enc, U12>::new((&key).into());
    use aes_gcm::aead::AeadInPlace;
    let mut d2 = vec![1u8; 64];
    let t2 = gk.encrypt_in_place_detached((&[0u8;12]).into(), b"aad", &mut d2).unwrap();
    c.bench_function("rustcrypto_open_64_with_keysetup", |b| b.iter(|| {
        let k = AesGcm::<aes::Aes256Enc, U12>::new(black_box(&key).into());
        let mut buf = d2.clone();
        k.decrypt_in_place_detached((&[0u8;12]).into(), b"aad", &mut buf, &t2).unwrap(); buf.len()
    }));
}
criterion_group!(benches2, ring_parts);
