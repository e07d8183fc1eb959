//! The crypto-module interface (`CryptoUnit`) and its implementations.
