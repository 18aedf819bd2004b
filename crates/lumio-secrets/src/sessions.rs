//! Where the dashboard keeps its signed-in browsers. The dashboard makes the ids and
//! hashes them; the service only keeps the rows, shared by every server on the database.

use lumio_store::SessionRecord;

use crate::{SecretsService, ServiceError};

/// The dashboard's sessions, through the service: [`SecretsService::sessions`].
pub struct Sessions<'a> {
    service: &'a SecretsService,
}

impl SecretsService {
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions { service: self }
    }
}

impl Sessions<'_> {
    pub async fn insert(&self, session: &SessionRecord) -> Result<(), ServiceError> {
        Ok(self.service.inner.store.insert_session(session).await?)
    }

    /// The session with this id hash, unless it expired by the service's clock.
    pub async fn find(&self, id_hash: &[u8; 32]) -> Result<Option<SessionRecord>, ServiceError> {
        let now = self.service.now();
        Ok(self.service.inner.store.find_session(id_hash, now).await?)
    }

    pub async fn delete(&self, id_hash: &[u8; 32]) -> Result<(), ServiceError> {
        Ok(self.service.inner.store.delete_session(id_hash).await?)
    }

    /// Drops every session expired by the service's clock; returns how many.
    pub async fn delete_expired(&self) -> Result<u64, ServiceError> {
        let now = self.service.now();
        Ok(self
            .service
            .inner
            .store
            .delete_expired_sessions(now)
            .await?)
    }

    /// Leaves a one-time notice for the session's next page.
    pub async fn set_flash(&self, id_hash: &[u8; 32], flash: &str) -> Result<(), ServiceError> {
        let store = &self.service.inner.store;
        Ok(store.set_session_flash(id_hash, flash).await?)
    }

    /// Clears the notice if it is still `flash`; returns whether this call cleared it.
    pub async fn take_flash(&self, id_hash: &[u8; 32], flash: &str) -> Result<bool, ServiceError> {
        let store = &self.service.inner.store;
        Ok(store.take_session_flash(id_hash, flash).await?)
    }
}
