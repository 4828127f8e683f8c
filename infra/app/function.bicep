// The function app: Flex Consumption, Python 3.13, system-assigned identity, identity-based
// connections only, and App Service Authentication (Entra ID) in front of every route except
// health and OpenAPI, so that X-MS-CLIENT-PRINCIPAL is set by the platform and never by a client.
// Sign-in is multi-tenant: Cetegra's customers sign in with their own Entra tenants, and only the
// listed tenants get in (the platform's WEBSITE_AUTH_AAD_ALLOWED_TENANTS check on the token's
// `tid`, answered 403 otherwise; the app checks the same list again as ALLOWED_TENANT_IDS).
// The analytics app roles count only for users of Cegal's own tenants (STAFF_TENANT_IDS): every
// customer tenant's admins can assign this app's roles in their own tenant.
param name string
param planName string
param location string
param tags object
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param keyVaultUri string
param entraClientId string
@description('Entra tenant ids whose users may sign in; App Service Authentication takes at most 10.')
@minLength(1)
@maxLength(10)
param allowedTenantIds array
@description('Cegal\'s own Entra tenant ids: the only tenants whose analytics app roles count (STAFF_TENANT_IDS).')
@minLength(1)
param staffTenantIds array
@description('Client ids of the apps allowed to call with a bearer token (azp/appid); empty = no app check.')
param allowedClientApplications array = []
@description('Values for the app settings the code reads (shared/kernel/settings.py).')
param settings object

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource insights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy is not offered in every allowed EEA region; data is ZRS and clients retry on 503
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: a public API for browser clients; every route but health and OpenAPI requires Entra sign-in (authsettingsV2 below)
  // checkov:skip=CKV_AZURE_17: browsers authenticate with Entra tokens through App Service Authentication, not client certificates
  // checkov:skip=CKV_AZURE_63: HTTP logs record client IP, user agent and referrer, which the privacy policy says are never logged
  // checkov:skip=CKV_AZURE_66: failed-request traces record request headers (IP, user agent, referrer), which the policy forbids
  // checkov:skip=CKV_AZURE_65: detailed error pages are written with request details; the app logs structured, identifier-free errors itself
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero on demand; clients queue and retry, so no always-on failover instance is kept
  // checkov:skip=CKV_AZURE_213: Flex Consumption has no platform health check; GET /api/health is probed by the deploy workflow and monitoring
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Platform CORS stays off: with origins it answers preflights itself, overrides the CORS headers of
      // the app and cannot expose a header, so Retry-After would be unreadable on another origin. The app
      // answers CORS for CORS_ALLOWED_ORIGINS in functions/edge.py; App Service Authentication passes
      // a preflight, OPTIONS with Origin and Access-Control-Request-Method, on without a sign-in.
      cors: {
        allowedOrigins: []
      }
      appSettings: [for setting in items(appSettings): { name: setting.key, value: setting.value }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: { instanceMemoryMB: 2048, maximumInstanceCount: 40 }
      runtime: { name: 'python', version: '3.13' }
    }
  }
}

// Every app setting the code reads (shared/kernel/settings.py), and the host's identity-based
// connections; set inline in siteConfig above. tests/test_infra.py fails if this list and the
// settings model drift apart.
var appSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  // The Python worker configures the Azure Monitor OpenTelemetry distro (shared/kernel/telemetry.py APP_SETTINGS)
  PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
  PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME: 'cetegra'
  OTEL_PYTHON_DISABLED_INSTRUMENTATIONS: 'azure_sdk,django,fastapi,flask,httpx,httpx2,psycopg2,requests,urllib,urllib3'
  TABLES_ENDPOINT: storage.properties.primaryEndpoints.table
  KEY_VAULT_URL: keyVaultUri
  SALT_SECRET_NAME: settings.saltSecretName
  SALT_CACHE_SECONDS: '300'
  WEBSITE_AUTH_AAD_ALLOWED_TENANTS: join(allowedTenantIds, ',')
  ALLOWED_TENANT_IDS: join(allowedTenantIds, ',')
  STAFF_TENANT_IDS: join(staffTenantIds, ',')
  EVENTS_PER_MINUTE: '600'
  POLICY_VERSION: settings.policyVersion
  DECLINED_MODE: settings.declinedMode
  CORS_ALLOWED_ORIGINS: settings.corsAllowedOrigins
  OPS_ROLE: 'Cetegra.Analytics.Operator'
  READER_ROLE: 'Cetegra.Analytics.Reader'
  AUTHOR_ROLE: 'Cetegra.Analytics.Author'
  RETENTION_MONTHS: '24'
  AGGREGATE_MIN_USERS: '5'
  SURVEY_FIRST_DAY: '3'
  SURVEY_INTERVAL_DAYS: '14'
  SURVEY_PAUSE_AFTER_ANSWER_DAYS: '30'
  SURVEY_PAUSE_AFTER_DISMISS_DAYS: '14'
}

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: false positive, this resource IS the site's App Service Authentication (authsettingsV2)
  // checkov:skip=CKV_AZURE_63: false positive, a site check run on the authsettingsV2 child; see the site's own reason
  // checkov:skip=CKV_AZURE_65: false positive, a site check run on the authsettingsV2 child; see the site's own reason
  // checkov:skip=CKV_AZURE_66: false positive, a site check run on the authsettingsV2 child; see the site's own reason
  // checkov:skip=CKV_AZURE_80: false positive, a .NET check; the app is Python 3.13
  // checkov:skip=CKV_AZURE_88: false positive, Azure Files is for App Service content; Flex Consumption deploys from blob
  // checkov:skip=CKV_AZURE_222: false positive, a site check run on the authsettingsV2 child; see the site's own reason
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: ['/api/health', '/api/openapi.json']
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          // A multi-tenant app registration: tokens of any work or school tenant validate here
          // (never personal Microsoft accounts); the tenant list above decides who gets in.
          clientId: entraClientId
          openIdIssuer: 'https://login.microsoftonline.com/organizations/v2.0'
        }
        validation: {
          allowedAudiences: ['api://${entraClientId}', entraClientId]
          defaultAuthorizationPolicy: empty(allowedClientApplications) ? null : {
            allowedApplications: allowedClientApplications
          }
        }
      }
    }
    login: { tokenStore: { enabled: false } }
    httpSettings: {
      requireHttps: true
      forwardProxy: { convention: 'NoProxy' }
    }
  }
}

output name string = app.name
output uri string = 'https://${app.properties.defaultHostName}'
output identityPrincipalId string = app.identity.principalId
