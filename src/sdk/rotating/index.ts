// sdk/rotating: the core every rotating client shares — the generation switch, the errors, the auth-failure tests.
export { isPgAuthError, isRedisAuthError, isSmtpAuthError } from './auth-errors.js';
export { CredentialsRejectedError, InvalidSecretShapeError, ResourceClosedError, SesSmtpPasswordError } from './errors.js';
export { RotatingResource, errorSummary, type CredentialMode, type RotatingResourceStats } from './rotating-resource.js';
