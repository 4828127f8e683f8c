// The pseudonym salt's home. RBAC authorisation only (no access policies), soft delete for 90
// days and purge protection, so a salt version can never be destroyed before its data expires.
param name string
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: the app has no VNet on Flex Consumption without integration; every read is Entra RBAC (Secrets User), no access policies
  // checkov:skip=CKV_AZURE_189: same as CKV_AZURE_109; closing public access needs VNet integration and a private endpoint (docs/deploy.md)
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled' // RBAC-gated; the app has no VNet on this plan
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
