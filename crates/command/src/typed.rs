//! Type-checked access to values: each getter answers `WRONGTYPE` when the
//! key holds another type, and `Ok(None)` when the key does not exist.

use daisy_keyspace::{Db, Hash, List, Set, StrValue, Value, ZSet};

use crate::CmdError;

pub fn get_str<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a StrValue>, CmdError> {
    match db.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(CmdError::WrongType),
    }
}

pub fn get_str_mut<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a mut StrValue>, CmdError> {
    match db.get_mut_checked(key, |v| matches!(v, Value::Str(_))) {
        Ok(Some(Value::Str(s))) => Ok(Some(s)),
        Ok(_) => Ok(None),
        Err(_) => Err(CmdError::WrongType),
    }
}

/// Fails with `WRONGTYPE` if `key` exists and `is_type` rejects its value.
/// Lets a command check its keys before it changes anything.
pub fn check_type(db: &mut Db, key: &[u8], is_type: fn(&Value) -> bool) -> Result<(), CmdError> {
    match db.get(key) {
        Some(value) if !is_type(value) => Err(CmdError::WrongType),
        _ => Ok(()),
    }
}

macro_rules! typed_access {
    ($get:ident, $get_mut:ident, $get_or_create:ident, $variant:ident, $ty:ty, $make:expr) => {
        pub fn $get<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a $ty>, CmdError> {
            match db.get(key) {
                None => Ok(None),
                Some(Value::$variant(inner)) => Ok(Some(inner)),
                Some(_) => Err(CmdError::WrongType),
            }
        }

        /// For changing the value; counts as a modification of the key.
        pub fn $get_mut<'a>(db: &'a mut Db, key: &[u8]) -> Result<Option<&'a mut $ty>, CmdError> {
            match db.get_mut_checked(key, |v| matches!(v, Value::$variant(_))) {
                Ok(Some(Value::$variant(inner))) => Ok(Some(inner)),
                Ok(_) => Ok(None),
                Err(_) => Err(CmdError::WrongType),
            }
        }

        /// The value, created empty when the key does not exist. The caller
        /// must leave it non-empty or call `Db::remove_if_empty`.
        pub fn $get_or_create<'a>(db: &'a mut Db, key: &[u8]) -> Result<&'a mut $ty, CmdError> {
            let seed = db.seed();
            let make: fn(u64) -> Value = $make;
            match db.get_or_insert_checked(key, |v| matches!(v, Value::$variant(_)), || make(seed))
            {
                Ok((Value::$variant(inner), _)) => Ok(inner),
                Ok(_) => unreachable!("the type was checked"),
                Err(_) => Err(CmdError::WrongType),
            }
        }
    };
}

typed_access!(get_list, get_list_mut, list_or_create, List, List, |_| {
    Value::new_list()
});
typed_access!(
    get_hash,
    get_hash_mut,
    hash_or_create,
    Hash,
    Hash,
    Value::new_hash
);
typed_access!(
    get_set,
    get_set_mut,
    set_or_create,
    Set,
    Set,
    Value::new_set
);
typed_access!(
    get_zset,
    get_zset_mut,
    zset_or_create,
    ZSet,
    ZSet,
    Value::new_zset
);
